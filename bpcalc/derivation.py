"""Step-by-step derivations: a solved problem as the equations a student writes by hand.

A :class:`Derivation` is data (a list of :class:`Step`), so one derivation renders as
terminal text, Markdown, LaTeX or JSON (``bpcalc.render.derivation``). Each step keeps
its equation as expression trees (:mod:`bpcalc.expr`): the general form in Nielsen's
notation (or the course's scalar names z1, a1, y when every layer has one neuron) and
the same form with the numbers put in. Numbers are ``Num(full value, text=rounded)``,
so the display is rounded while :func:`bpcalc.expr.evaluate` of the substituted tree
gives the step's value: every step is checked that way when it is built, and a step
whose arithmetic would not hold is shown without it rather than wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .errors import BpcalcError
from .expr import (
    Add, Call, Div, Expr, Hadamard, HALF, MatMul, Matrix, Mul, Neg, Num, Partial, Pow, Sub,
    Sym, Transpose, UnicodePrinter, Vector, evaluate, to_json, to_latex,
)
from .numbers import format_number
from .problem import Problem, did_you_mean
from .solver import Parameter, Solution

DEFAULT_DIGITS = 4
SCALAR_WIDTH = 5            # scalars are on by default when no layer is wider than this
MAX_STEPS = 4000            # beyond this a derivation is no longer something to read
MAX_SUBSTITUTED = 36        # entries of a vector/matrix form shown with its numbers
MAX_SHOWN = 36              # entries of a result shown; larger ones are summarised
MAX_TERMS = 12              # examples written out in a mean of per-example gradients
SATURATED = 0.02            # f′ below this: a saturated sigmoid or tanh
VANISHING, EXPLODING = 1e-2, 1e2   # ratio of max |δ| between the first layer and the output

_PLURAL = {"weights": "weights", "bias": "biases"}

# How each activation is called in the trees (the names bpcalc.expr knows where it can).
FUNCTION_NAMES = {"sigmoid": "sigma", "tanh": "tanh", "relu": "relu", "softplus": "softplus",
                  "leaky_relu": "LReLU", "softmax": "softmax", "identity": "id"}
_EVALUABLE = {"sigmoid", "tanh", "relu", "softplus"}


# ------------------------------------------------------------------ rich text

@dataclass(frozen=True)
class Math:
    """Expressions joined by relations, e.g. σ′(z) = σ(z)·(1 − σ(z)), or z1 = 0.03 > 0."""

    parts: tuple[Expr, ...]
    relations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.relations:
            object.__setattr__(self, "relations", ("=",) * (len(self.parts) - 1))


@dataclass(frozen=True)
class TeX:
    """Math given as text in both notations (for registry strings and Σ, which trees lack)."""

    unicode: str
    latex: str


Segment = str | Math | TeX
Prose = tuple  # of Segment: words and math, rendered by each renderer in its own way

RELATIONS_LATEX = {"=": "=", "≈": r"\approx", "←": r"\leftarrow", ">": ">", "<": "<",
                   "≤": r"\le", "≥": r"\ge", "≠": r"\ne"}


class _Unicode(UnicodePrinter):
    """The course writes a chain of partials unbracketed: ∂C/∂y·∂y/∂z2 (a/b·c/d is (a/b)(c/d)),
    and an indexed symbol after ∂ needs no brackets either (∂z²₃/∂w²₃₇)."""

    def needs_parens(self, child: Expr, parent: Expr, side: str) -> bool:
        if isinstance(child, Partial) and isinstance(parent, Mul):
            return False
        return super().needs_parens(child, parent, side)

    def _print_Partial(self, node: Partial) -> str:
        if isinstance(node.of, Sym):            # ∂z²₃/∂w²₃₇, not ∂(z²₃)/∂w²₃₇
            return f"∂{self.print(node.of)}/∂{self.print(node.wrt)}" if isinstance(node.wrt, Sym) \
                else f"∂{self.print(node.of)}/∂({self.print(node.wrt)})"
        return super()._print_Partial(node)


def unicode(node: Expr) -> str:
    """Unicode text of an expression, as every derivation renderer shows it."""
    return _Unicode().print(node)


def latex(node: Expr) -> str:
    return to_latex(node)


def math_unicode(item: Math) -> str:
    text = unicode(item.parts[0])
    for relation, part in zip(item.relations, item.parts[1:]):
        text += f" {relation} {unicode(part)}"
    return text


def math_latex(item: Math) -> str:
    text = latex(item.parts[0])
    for relation, part in zip(item.relations, item.parts[1:]):
        text += f" {RELATIONS_LATEX.get(relation, relation)} {latex(part)}"
    return text


def prose_unicode(prose: Iterable[Segment]) -> str:
    out = []
    for segment in prose:
        if isinstance(segment, Math):
            out.append(math_unicode(segment))
        elif isinstance(segment, TeX):
            out.append(segment.unicode)
        else:
            out.append(segment)
    return "".join(out)


_TEXT_LATEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
               "#": r"\#", "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}",
               "—": "---", "–": "--", "’": "'", "‘": "`", "“": "``", "”": "''", "…": r"\dots{}",
               "·": r"$\cdot$", "−": "-", "≈": r"$\approx$", "≤": r"$\le$", "≥": r"$\ge$",
               "η": r"$\eta$", "σ": r"$\sigma$", "δ": r"$\delta$", "∂": r"$\partial$",
               "⊙": r"$\odot$", "′": "'", "×": r"$\times$", "→": r"$\to$", "←": r"$\leftarrow$",
               "Σ": r"$\Sigma$", "½": r"$\frac{1}{2}$", "|": r"$|$", "<": r"$<$", ">": r"$>$",
               "α": r"$\alpha$", "ᵀ": r"$^{\mathsf{T}}$", "¼": r"$\frac{1}{4}$",
               **{sup: f"$^{{{plain}}}$" for sup, plain in zip("⁰¹²³⁴⁵⁶⁷⁸⁹ˡ⁺⁻", "0123456789l+-")},
               **{sub: f"$_{{{plain}}}$" for sub, plain in zip("₀₁₂₃₄₅₆₇₈₉ⱼₖₗ", "0123456789jkl")}}


def latex_text(text: str) -> str:
    """Plain words for LaTeX text mode: specials escaped, the few symbols we use mapped,
    accented Latin letters kept (utf8 input), anything else dropped to '?'."""
    out = []
    for char in text:
        if char in _TEXT_LATEX:
            out.append(_TEXT_LATEX[char])
        elif ord(char) < 128 or (char.isalpha() and ord(char) < 0x250):
            out.append(char)
        else:
            out.append("?")
    return "".join(out)


def prose_latex(prose: Iterable[Segment], math: Callable[[str], str] = lambda tex: f"${tex}$",
                text: Callable[[str], str] | None = None) -> str:
    """LaTeX text mode with $…$ math; ``math`` and ``text`` let Markdown reuse the walk."""
    text = text or latex_text
    out = []
    for segment in prose:
        if isinstance(segment, Math):
            out.append(math(math_latex(segment)))
        elif isinstance(segment, TeX):
            out.append(math(segment.latex))
        else:
            out.append(text(segment))
    return "".join(out)


# ------------------------------------------------------------------ data

@dataclass(frozen=True)
class Step:
    """One line of a derivation: ``lhs = [chain =] general = substituted ≈ result``.

    ``value`` is the full-precision result (a float or an array; None for a statement
    with no numbers). ``key`` is the solution path of the value (``layers[2].delta[0]``,
    ``gradients.w2``), as ``bpcalc check`` and answer keys name it, where there is one.
    ``example`` is the 0-based example of a per-example step in a batch.
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

    @property
    def result(self) -> Expr | None:
        """The value as displayed: a rounded Num, or a Vector/Matrix of them."""
        if self.value is None:
            return None
        return _as_expr(self.value, self.digits)

    @property
    def summarised(self) -> bool:
        """Too many entries to show: renderers print a few and say where the rest are."""
        return self.value is not None and np.size(self.value) > MAX_SHOWN

    def summary(self) -> str:
        """``[0.1, 0.2, 0.3, …] (1000 values)`` for a result too large to show."""
        values = np.ravel(self.value)
        head = ", ".join(unicode(_num(v, self.digits)) for v in values[:4])
        shape = "×".join(str(n) for n in np.shape(self.value))
        return f"[{head}, …] ({shape} values; --format json has them all)"

    @property
    def result_text(self) -> str | None:
        return None if self.value is None else unicode(self.result)

    @property
    def exact(self) -> bool:
        """True when nothing shown is rounded, so the last relation is '=' and not '≈'."""
        nums = _nums(self.substituted) if self.substituted is not None else []
        if self.value is not None:
            nums += _nums(self.result)
        return all(_shown_exactly(n) for n in nums)

    def forms(self) -> list[tuple[str, Expr]]:
        """(relation, expression) pairs in reading order; the first relation is ''.
        A form printed exactly like the one before it or like the result is left out."""
        out: list[tuple[str, Expr]] = [("", self.lhs)]
        if self.summarised:
            result, result_text = None, None
        else:
            result, result_text = self.result, self.result_text
        seen = {unicode(self.lhs)}
        for form in (self.chain, self.general, self.substituted):
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
        return " ".join(f"{rel} {unicode(form)}" if rel else unicode(form) for rel, form in self.forms())

    def equation_latex(self) -> str:
        return " ".join(f"{RELATIONS_LATEX[rel]} {latex(form)}" if rel else latex(form)
                        for rel, form in self.forms())

    def to_dict(self, number: int | None = None) -> dict[str, Any]:
        def rendered(node: Expr | None) -> dict[str, Any] | None:
            if node is None:
                return None
            return {"unicode": unicode(node), "latex": latex(node), "tree": to_json(node)}

        value = self.value
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif value is not None:
            value = float(value)
        return {
            "number": number,
            "section": self.section,
            "title": self.title,
            "indexed": rendered(self.indexed),
            "rule": self.rule,
            "key": self.key,
            "example": None if self.example is None else self.example + 1,
            "relation": self.relation,
            "lhs": rendered(self.lhs),
            "chain": rendered(self.chain),
            "general": rendered(self.general),
            "substituted": rendered(self.substituted),
            "result": None if self.value is None or self.summarised else {
                "unicode": self.result_text, "latex": latex(self.result)},
            "exact": self.exact,
            "value": value,
            "equation": {"unicode": self.equation_unicode(), "latex": self.equation_latex()},
            "note": None if self.note is None else {"unicode": prose_unicode(self.note),
                                                    "latex": prose_latex(self.note)},
        }


@dataclass(frozen=True)
class Caution:
    """A warning where the numbers teach something (a saturated sigmoid, a dead ReLU, …).
    ``step`` is the index of the step it follows, or None (shown at the end)."""

    kind: str                # "saturated", "dead_relu", "vanishing", "exploding", "arithmetic"
    message: Prose
    step: int | None = None
    layer: int | None = None
    neuron: int | None = None           # 0-based
    examples: tuple[int, ...] = ()      # 0-based

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "step": None if self.step is None else self.step + 1,
                "layer": self.layer, "neuron": None if self.neuron is None else self.neuron + 1,
                "examples": [x + 1 for x in self.examples],
                "unicode": prose_unicode(self.message), "latex": prose_latex(self.message)}


@dataclass(frozen=True)
class Table:
    """A small table of a section (σ′ at the problem's own z); cells are words, numbers
    or expressions."""

    section: str
    title: str
    headers: tuple[Segment, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: Prose | None = None

    def to_dict(self, digits: int) -> dict[str, Any]:
        def cell(value: Any) -> Any:
            if isinstance(value, Expr):
                value = Math((value,))
            if isinstance(value, (Math, TeX)):
                value = (value,)
            if isinstance(value, tuple):
                return {"unicode": prose_unicode(value), "latex": prose_latex(value)}
            return value

        return {"section": self.section, "title": self.title,
                "headers": [prose_unicode([h]) for h in self.headers],
                "rows": [[cell(c) for c in row] for row in self.rows],
                "note": None if self.note is None else prose_unicode(self.note)}


@dataclass(frozen=True)
class Derivation:
    title: str
    steps: tuple[Step, ...]
    warnings: tuple[Caution, ...] = ()
    sections: tuple[str, ...] = ()
    intro: tuple[Prose, ...] = ()
    tables: tuple[Table, ...] = ()
    digits: int = DEFAULT_DIGITS
    param: str | None = None
    scalars: bool = True

    def warnings_after(self, index: int) -> list[Caution]:
        return [w for w in self.warnings if w.step == index]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "digits": self.digits,
            "param": self.param,
            "scalars": self.scalars,
            "intro": [{"unicode": prose_unicode(p), "latex": prose_latex(p)} for p in self.intro],
            "sections": list(self.sections),
            "steps": [step.to_dict(number) for number, step in enumerate(self.steps, start=1)],
            "warnings": [w.to_dict() for w in self.warnings],
            "tables": [t.to_dict(self.digits) for t in self.tables],
        }


# ------------------------------------------------------------------ numbers in trees

def _num(value: float, digits: int) -> Num:
    value = float(value)
    return Num(value, text=shown(value, digits))


def shown(value: float, digits: int) -> str:
    """A number as a step shows it. A value that is not a whole number never displays as
    one (0.99997 is not shown as "1"): more digits are used until it differs, so that
    the arithmetic a student redoes with the shown numbers (ln(1 − a), a·(1 − a)) holds."""
    value = float(value)
    text = format_number(value, digits)
    while digits < 17 and value != round(value) and _is_whole(text):
        digits += 1
        text = format_number(value, digits)
    return text


def _is_whole(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _as_expr(value: Any, digits: int) -> Expr:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return _num(float(array), digits)
    if array.ndim == 1:
        return Vector(tuple(_num(v, digits) for v in array))
    return Matrix(tuple(tuple(_num(v, digits) for v in row) for row in array))


def _nums(node: Expr | None) -> list[Num]:
    if node is None:
        return []
    if isinstance(node, Num):
        return [node]
    found = []
    for name in ("left", "right", "operand", "base", "exponent", "of", "wrt"):
        child = getattr(node, name, None)
        if isinstance(child, Expr):
            found += _nums(child)
    for child in getattr(node, "args", ()) + getattr(node, "items", ()):
        found += _nums(child)
    for row in getattr(node, "rows", ()):
        for child in row:
            found += _nums(child)
    return found


def _shown_exactly(node: Num) -> bool:
    if node.text is None:
        return True
    try:
        return float(node.text) == float(node.value)
    except ValueError:
        return True     # a symbol-like text such as ½ is exact by construction


def _holds(substituted: Expr, value: Any) -> bool:
    """Does the substituted tree evaluate to the value (relative 1e-9)?"""
    try:
        got = evaluate(substituted)
    except Exception:  # noqa: BLE001 - any failure means: do not show this arithmetic
        return False
    if np.iscomplexobj(got):
        return False
    got, want = np.asarray(got, dtype=np.float64), np.asarray(value, dtype=np.float64)
    if got.shape != want.shape or not np.all(np.isfinite(got)):
        return False
    return bool(np.allclose(got, want, rtol=1e-9, atol=1e-12))


# ------------------------------------------------------------------ notation

def _index(*indices: int) -> str:
    """1-based subscripts, comma-separated when an index has two digits (w²₁,₁₂)."""
    parts = [str(i + 1) for i in indices]
    return ("," if any(len(p) > 1 for p in parts) else "").join(parts)


class Names:
    """The symbols of one problem. With one neuron in every layer, the course's scalar
    names: x, z1, a1, z2, y, t, δ₂ and the problem's parameter names (w1, w2, b).
    Otherwise Nielsen's indexed names: zˡⱼ, aˡⱼ, x_k = a⁰_k, wˡⱼₖ, bˡⱼ, δˡⱼ, t_j."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.L = len(problem.layers)
        self.chain = all(layer.size == 1 for layer in problem.layers)
        self.inputs = problem.inputs.shape[1]
        self.multi = len(problem.inputs) > 1

    def z(self, l: int, j: int | None = None) -> Sym:
        if self.chain:
            return Sym(f"z{l}")
        return Sym("z", sup=str(l)) if j is None else Sym("z", _index(j), str(l))

    def a(self, l: int, j: int | None = None) -> Sym:
        if l == 0:
            return self.x(j)
        if self.chain:
            return Sym("y") if l == self.L else Sym(f"a{l}")
        return Sym("a", sup=str(l)) if j is None else Sym("a", _index(j), str(l))

    def x(self, k: int | None = None) -> Sym:
        if self.chain:
            return Sym("x") if self.inputs == 1 or k is None else Sym(f"x{k + 1}")
        return Sym("x") if k is None else Sym("x", _index(k))

    def t(self, j: int | None = None) -> Sym:
        if self.chain or j is None:
            return Sym("t")
        return Sym("t", _index(j))

    def delta(self, l: int, j: int | None = None) -> Sym:
        if self.chain:
            return Sym("delta", str(l))
        return Sym("delta", sup=str(l)) if j is None else Sym("delta", _index(j), str(l))

    def w(self, l: int, j: int | None = None, k: int | None = None) -> Sym:
        if j is None:
            return Sym("w", sup=str(l))
        if self.chain:
            return Sym(self.problem.layers[l - 1].weight_names[j][k])
        return self.w_indexed(l, j, k)

    def b(self, l: int, j: int | None = None) -> Sym:
        if j is None:
            return Sym("b", sup=str(l))
        if self.chain:
            return Sym(self.problem.layers[l - 1].bias_names[j])
        return self.b_indexed(l, j)

    @staticmethod
    def w_indexed(l: int, j: int, k: int) -> Sym:
        return Sym("w", _index(j, k), str(l))

    @staticmethod
    def b_indexed(l: int, j: int) -> Sym:
        return Sym("b", _index(j), str(l))

    def parameter(self, p: Parameter) -> Sym:
        return self.w(p.layer, *p.index) if p.kind == "weights" else self.b(p.layer, p.index[0])

    def parameter_indexed(self, p: Parameter) -> Sym:
        return (self.w_indexed(p.layer, *p.index) if p.kind == "weights"
                else self.b_indexed(p.layer, p.index[0]))

    def cost(self, x: int | None = None) -> Sym:
        return Sym("C", str(x + 1)) if x is not None and self.multi else Sym("C")


def _f(layer_activation: str, argument: Expr, derivative: int = 0) -> Expr:
    return Call(FUNCTION_NAMES.get(layer_activation, layer_activation), (argument,), derivative)


def _fold(op: type, items: Sequence[Expr]) -> Expr:
    result = items[0]
    for item in items[1:]:
        result = op(result, item)
    return result


def _loss_gradient(loss: str, a: Expr, t: Expr, n: int) -> Expr | None:
    """∂C_x/∂a_j for one output, as a tree in a and t (symbols or numbers); None if unknown.
    The forms follow bpcalc.losses term by term, so they evaluate to its numbers."""
    if loss == "half_squared_error":
        return Sub(a, t)
    if loss == "squared_error":
        return Mul(Num(2), Sub(a, t))
    if loss == "mean_squared_error":
        return Mul(Num(2) if n == 1 else Div(Num(2), Num(n)), Sub(a, t))
    if loss == "cross_entropy":
        if isinstance(t, Num) and t.value == 0:
            return Num(0)                       # 0/a is 0, also where a is 0 (as the solver has it)
        return Neg(Div(t, a))
    if loss == "binary_cross_entropy":
        if isinstance(t, Num) and t.value == 1:
            return Neg(Div(t, a))               # the (1 − t)/(1 − a) term is 0
        if isinstance(t, Num) and t.value == 0:
            return Div(Sub(Num(1), t), Sub(Num(1), a))
        return Sub(Div(Sub(Num(1), t), Sub(Num(1), a)), Div(t, a))
    return None


def _loss_cost(loss: str, a: Sequence[Expr], t: Sequence[Expr], zero_t: Sequence[bool],
               one_t: Sequence[bool]) -> Expr | None:
    """C_x as a tree over the outputs; terms with a zero factor (t = 0 in t·ln a) are left out."""
    n = len(a)
    if loss in ("half_squared_error", "squared_error", "mean_squared_error"):
        total = _fold(Add, [Pow(Sub(aj, tj), Num(2)) for aj, tj in zip(a, t)])
        if loss == "half_squared_error":
            return Mul(HALF, total)
        if loss == "mean_squared_error" and n > 1:
            return Div(total, Num(n))
        return total
    if loss == "cross_entropy":
        terms = [Mul(tj, Call("ln", (aj,))) for aj, tj, zero in zip(a, t, zero_t) if not zero]
        return Neg(_fold(Add, terms)) if terms else Num(0)
    if loss == "binary_cross_entropy":
        terms = []
        for aj, tj, zero, one in zip(a, t, zero_t, one_t):
            if not zero:
                terms.append(Mul(tj, Call("ln", (aj,))))
            if not one:
                terms.append(Mul(Sub(Num(1), tj), Call("ln", (Sub(Num(1), aj),))))
        return Neg(_fold(Add, terms)) if terms else Num(0)
    return None


# ------------------------------------------------------------------ the builder

Z = Sym("z")


def _eq(*parts: Expr, relations: Sequence[str] = ()) -> Math:
    return Math(tuple(parts), tuple(relations))


def _activation_rule(name: str, slope: float | None) -> Prose | None:
    """f spelled out where a layer's activation is first used."""
    if name == "sigmoid":
        return (_eq(_f(name, Z), Div(Num(1), Add(Num(1), Call("exp", (Neg(Z),))))),)
    if name == "relu":
        return (_eq(_f(name, Z), Call("max", (Num(0), Z))),)
    if name == "softplus":
        return (_eq(_f(name, Z), Call("ln", (Add(Num(1), Call("exp", (Z,))),))),)
    if name == "leaky_relu":
        return (_eq(_f(name, Z), Z), " for z > 0 and ", _eq(_f(name, Z), Mul(Sym("alpha"), Z)),
                f" otherwise, with the slope α = {format_number(slope or 0.0)}")
    if name == "identity":
        return ("a linear (identity) layer passes its weighted input through: a = z",)
    if name == "softmax":
        return ("softmax: each output is e^z of its neuron divided by the sum S of e^z over the "
                "layer, so the outputs are positive and add up to 1",)
    return None


def _derivative_rule(name: str, slope: float | None) -> Prose | None:
    """f′ spelled out where it is first used."""
    if name == "sigmoid":
        return (_eq(_f(name, Z, 1), Mul(_f(name, Z), Sub(Num(1), _f(name, Z)))), ", and ",
                Math((_f(name, Z),)), " is the activation a already computed, so ",
                _eq(_f(name, Z, 1), Mul(Sym("a"), Sub(Num(1), Sym("a")))))
    if name == "tanh":
        return (_eq(_f(name, Z, 1), Sub(Num(1), Pow(_f(name, Z), Num(2)))), ", and ",
                Math((_f(name, Z),)), " is the activation a already computed, so ",
                _eq(_f(name, Z, 1), Sub(Num(1), Pow(Sym("a"), Num(2)))))
    if name == "relu":
        return (_eq(_f(name, Z, 1), Num(1)), " for z > 0 and ", _eq(_f(name, Z, 1), Num(0)),
                " for z < 0; at z = 0 it is undefined and bpcalc takes 0, as PyTorch and "
                "TensorFlow do")
    if name == "leaky_relu":
        return (_eq(_f(name, Z, 1), Num(1)), " for z > 0 and ", _eq(_f(name, Z, 1), Sym("alpha")),
                f" (the slope, {format_number(slope or 0.0)}) for z ≤ 0",)
    if name == "softplus":
        return (_eq(_f(name, Z, 1), _f("sigmoid", Z)), ": the derivative of softplus is the sigmoid")
    return None


class _Builder:
    def __init__(self, problem: Problem, solution: Solution, names: Names, digits: int,
                 scalars: bool, vectors: bool = True) -> None:
        self.p, self.s, self.names = problem, solution, names
        self.digits, self.scalars, self.vectors = digits, scalars, vectors
        self.L = len(problem.layers)
        self.n = len(problem.inputs)
        self.multi = self.n > 1
        self.steps: list[Step] = []
        self.sections: list[str] = []
        self.section = ""
        self.cautions: list[Caution] = []
        self.noted: set[str] = set()
        self.fprime_step: dict[tuple[int, int, int], int] = {}   # (layer, neuron, example)
        self.delta_step: dict[tuple[int, int], int] = {}          # (layer, example)
        self.dropped: list[int] = []
        self.param_mode = False
        self.parameters = list(solution.parameters())      # once: names are built on demand
        self.by_layer: dict[int, list[Parameter]] = {}
        for p in self.parameters:
            self.by_layer.setdefault(p.layer, []).append(p)

    # -- plumbing ---------------------------------------------------------------
    def num(self, value: float) -> Num:
        return _num(value, self.digits)

    def vec(self, values: Iterable[float]) -> Vector:
        return Vector(tuple(self.num(v) for v in values))

    def mat(self, values: np.ndarray) -> Matrix:
        return Matrix(tuple(tuple(self.num(v) for v in row) for row in np.atleast_2d(values)))

    def begin(self, name: str, x: int | None = None) -> None:
        self.section = f"{name}, example {x + 1}" if x is not None and self.multi else name
        if self.section not in self.sections:
            self.sections.append(self.section)

    def once(self, key: str, prose: Prose | None) -> Prose | None:
        if prose is None or key in self.noted:
            return None
        self.noted.add(key)
        return prose

    def add(self, title: str, lhs: Expr, general: Expr | None, substituted: Expr | None,
            value: Any, rule: str, **extra: Any) -> int:
        if isinstance(value, np.ndarray):
            value = value.astype(np.float64, copy=True)
        elif value is not None:
            value = float(value)
        if substituted is not None and value is not None and not _holds(substituted, value):
            substituted = None
            self.dropped.append(len(self.steps))
        extra.setdefault("digits", self.digits)
        self.steps.append(Step(self.section, title, lhs, general, substituted, value, rule, **extra))
        return len(self.steps) - 1

    def layer_forms(self, l: int) -> tuple[bool, bool]:
        """(vector form, scalar entries) for layer l's forward pass. For --param a small layer
        is written entry by entry and a wide one only as vectors."""
        layer = self.p.layers[l - 1]
        if self.param_mode:
            wide = max(layer.size, layer.weights.shape[1]) > SCALAR_WIDTH and not self.names.chain
            return wide and layer.size > 1, not wide or layer.size == 1
        return layer.size > 1 and self.vectors, layer.size == 1 or self.scalars

    def small(self, *arrays: np.ndarray) -> bool:
        """Are these arrays small enough to write out with their numbers?"""
        return sum(np.size(a) for a in arrays) <= MAX_SUBSTITUTED

    def key(self, name: str, l: int, x: int, *index: int) -> str:
        key = f"layers[{l}].{name}"
        if not self.p.single:
            key += f"[{x}]"
        return key + "".join(f"[{i}]" for i in index)

    def a_values(self, l: int, x: int) -> np.ndarray:
        return self.p.inputs[x] if l == 0 else self.s.layers[l - 1].a[x]

    def layer_word(self, l: int) -> str:
        return f"layer {l}" + (" (output)" if l == self.L and self.L > 1 else "")

    def neuron_word(self, l: int, j: int) -> str:
        size = self.p.layers[l - 1].size
        return f", neuron {j + 1}" if size > 1 else ""

    def update_digits(self, old: Any, new: Any) -> int:
        """Enough digits that an update shows a change (−5 → −4.9996, not −5 → −5)."""
        old, new = np.ravel(old), np.ravel(new)
        for digits in range(self.digits, 18):
            if all(format_number(o, digits) != format_number(n, digits) for o, n in zip(old, new) if o != n):
                return digits
        return 17

    # -- forward ----------------------------------------------------------------
    def forward(self, x: int, *, cost: bool = True) -> None:
        self.begin("Forward pass", x)
        names = self.names
        for l, (layer, result) in enumerate(zip(self.p.layers, self.s.layers), start=1):
            prev = self.a_values(l - 1, x)
            width = layer.weights.shape[1]
            vector, scalar = self.layer_forms(l)
            if vector:
                general: Expr = MatMul(names.w(l), names.a(l - 1))
                substituted: Expr | None = None
                if self.small(layer.weights, prev):
                    substituted = MatMul(self.mat(layer.weights), self.vec(prev))
                if layer.bias is not None:
                    general = Add(general, names.b(l))
                    if substituted is not None:
                        substituted = Add(substituted, self.vec(layer.bias))
                self.add(f"weighted inputs, {self.layer_word(l)}", names.z(l), general, substituted,
                         result.z[x], "forward", key=self.key("z", l, x))
            if scalar:
                for j in range(layer.size):
                    general = substituted = note = None
                    if width <= MAX_TERMS:
                        symbols = [Mul(names.w(l, j, k), names.a(l - 1, k)) for k in range(width)]
                        numbers = [Mul(self.num(layer.weights[j, k]), self.num(prev[k])) for k in range(width)]
                        if layer.bias is not None:
                            symbols.append(names.b(l, j))
                            numbers.append(self.num(layer.bias[j]))
                        general, substituted = _fold(Add, symbols), _fold(Add, numbers)
                    else:
                        note = (f"the sum of the {width} products of a weight and an input of this neuron"
                                + (", plus its bias" if layer.bias is not None else ""),)
                    self.add(f"weighted input, {self.layer_word(l)}{self.neuron_word(l, j)}",
                             names.z(l, j), general, substituted, result.z[x, j],
                             "forward", key=self.key("z", l, x, j), note=note)
            self.activation(l, x)
        if cost:
            self.cost(x)

    def activation(self, l: int, x: int) -> None:
        layer, result, names = self.p.layers[l - 1], self.s.layers[l - 1], self.names
        name = layer.activation.name
        slope = layer.params.get("slope")
        z, a = result.z[x], result.a[x]
        what = "output" if l == self.L else "activation"
        vector, scalar = self.layer_forms(l)
        note = self.once(f"f:{name}", _activation_rule(name, slope))
        if name == "softmax":
            S = Sym("S", sup=None if names.chain else str(l))
            total = float(np.sum(np.exp(z)))
            self.add(f"softmax denominator, {self.layer_word(l)}", S,
                     _fold(Add, [Call("exp", (names.z(l, j),)) for j in range(layer.size)]),
                     _fold(Add, [Call("exp", (self.num(v),)) for v in z]), total, "forward", note=note)
            note = None
            if vector:
                self.add(f"{what}s, {self.layer_word(l)}", names.a(l), _f(name, names.z(l)),
                         Div(Call("exp", (self.vec(z),)), self.num(total)) if self.small(z) else None,
                         a, "forward", key=self.key("a", l, x))
            if scalar:
                for j in range(layer.size):
                    self.add(f"{what}, {self.layer_word(l)}{self.neuron_word(l, j)}", names.a(l, j),
                             Div(Call("exp", (names.z(l, j),)), S),
                             Div(Call("exp", (self.num(z[j]),)), self.num(total)), a[j], "forward",
                             key=self.key("a", l, x, j))
            return
        if vector:
            general = names.z(l) if name == "identity" else _f(name, names.z(l))
            substituted = None
            if name in _EVALUABLE and self.small(z):
                substituted = _f(name, self.vec(z))
            self.add(f"{what}s, {self.layer_word(l)}", names.a(l), general, substituted, a, "forward",
                     key=self.key("a", l, x), note=note)
            note = None
        if scalar:
            for j in range(layer.size):
                general = names.z(l, j) if name == "identity" else _f(name, names.z(l, j))
                if name in _EVALUABLE:
                    substituted = _f(name, self.num(z[j]))
                elif name == "leaky_relu":
                    substituted = self.num(z[j]) if z[j] > 0 else Mul(self.num(slope), self.num(z[j]))
                else:
                    substituted = None
                title = ("output y" if names.chain and l == self.L
                         else f"{what}, {self.layer_word(l)}{self.neuron_word(l, j)}")
                self.add(title, names.a(l, j), general, substituted, a[j], "forward",
                         key=self.key("a", l, x, j), note=note)
                note = None

    def cost(self, x: int) -> None:
        loss, names = self.p.loss, self.names
        L = self.L
        a, t = self.s.layers[-1].a[x], self.p.targets[x]
        size = len(t)
        zero, one = [v == 0 for v in t], [v == 1 for v in t]
        symbols = _loss_cost(loss.name, [names.a(L, j) for j in range(size)],
                             [names.t(j) for j in range(size)], zero, one)
        numbers = _loss_cost(loss.name, [self.num(v) for v in a], [self.num(v) for v in t], zero, one)
        if symbols is None or size > MAX_TERMS:
            symbols, numbers = None, None
        note = self.once("loss", (f"the loss is {loss.name.replace('_', ' ')}: ",
                                  TeX(loss.unicode, loss.latex)))
        if loss.name in ("cross_entropy", "binary_cross_entropy") and (any(zero) or any(one)):
            note = (*(note or ()), *(("; " if note else ""),
                                     "terms whose factor t or 1 − t is 0 vanish and are left out"))
        title = f"cost of example {x + 1}" if self.multi else "cost"
        self.add(title, names.cost(x), symbols, numbers, self.s.example_losses[x], "cost",
                 key=None if self.multi else "loss", note=note, example=x if self.multi else None)

    # -- backward ---------------------------------------------------------------
    def output_gradient(self, x: int, neurons: Sequence[int], vector: bool) -> None:
        """∂C/∂a for the output layer (not needed where δ^L is fused)."""
        L, names, loss = self.L, self.names, self.p.loss
        a, t = self.s.layers[-1].a[x], self.p.targets[x]
        grad = loss.gradient(a[None, :], t[None, :])[0]
        size = len(a)
        cost = names.cost(x)
        note = None
        if vector:
            general = Sub(names.a(L), names.t()) if loss.name == "half_squared_error" else None
            substituted = Sub(self.vec(a), self.vec(t)) if general is not None and self.small(a) else None
            self.add("gradient of the cost with respect to the outputs", Partial(cost, names.a(L)),
                     general, substituted, grad, "gradient", note=note, example=self._ex(x))
            note = None
        for j in neurons:
            general = _loss_gradient(loss.name, names.a(L, j), names.t(j), size)
            substituted = _loss_gradient(loss.name, self.num(a[j]), self.num(t[j]), size)
            self.add("gradient of the cost with respect to the output" + self.neuron_word(L, j),
                     Partial(cost, names.a(L, j)), general, substituted, grad[j], "gradient",
                     note=note, example=self._ex(x))
            note = None

    def _ex(self, x: int) -> int | None:
        return x if self.multi else None

    def fprime(self, l: int, x: int, neurons: Sequence[int], vector: bool) -> np.ndarray:
        """f′(z^l) steps (none for the identity: f′ = 1); returns f′ for the whole layer."""
        layer, result, names = self.p.layers[l - 1], self.s.layers[l - 1], self.names
        name = layer.activation.name
        z, a = result.z[x], result.a[x]
        values = layer.activation.prime(z[None, :], **layer.params)[0]
        if name == "identity":
            return values
        slope = layer.params.get("slope")
        note = self.once(f"f':{name}", _derivative_rule(name, slope))
        title = f"derivative of the activation, {self.layer_word(l)}"
        if vector:
            title = f"derivatives of the activation, {self.layer_word(l)}"
            general = substituted = None
            if name == "sigmoid":
                general = Hadamard(names.a(l), Sub(Num(1), names.a(l)))
                substituted = Hadamard(self.vec(a), Sub(Num(1), self.vec(a)))
            elif name == "tanh":
                general = Sub(Num(1), Hadamard(names.a(l), names.a(l)))
                substituted = Sub(Num(1), Hadamard(self.vec(a), self.vec(a)))
            elif name in ("relu", "softplus"):
                substituted = _f(name, self.vec(z), 1) if name == "relu" else _f("sigmoid", self.vec(z))
                general = None if name == "relu" else _f("sigmoid", names.z(l))
            if not self.small(z):
                substituted = None
            index = self.add(title, _f(name, names.z(l), 1), general, substituted, values, "derivative",
                             note=note, example=self._ex(x))
            for j in range(layer.size):
                self.fprime_step[(l, j, x)] = index
            note = None
        for j in neurons:
            general = substituted = None
            local: Prose | None = None
            if name == "sigmoid":
                general = Mul(names.a(l, j), Sub(Num(1), names.a(l, j)))
                substituted = Mul(self.num(a[j]), Sub(Num(1), self.num(a[j])))
            elif name == "tanh":
                general = Sub(Num(1), Pow(names.a(l, j), Num(2)))
                substituted = Sub(Num(1), Pow(self.num(a[j]), Num(2)))
            elif name == "softplus":
                general = _f("sigmoid", names.z(l, j))
                substituted = _f("sigmoid", self.num(z[j]))
            elif name in ("relu", "leaky_relu"):
                if name == "relu":
                    substituted = _f(name, self.num(z[j]), 1)
                sign = ">" if z[j] > 0 else ("<" if z[j] < 0 else "=")
                local = ("here ", _eq(names.z(l, j), self.num(z[j]), Num(0), relations=("=", sign)))
                if z[j] == 0:
                    local = (*local, ", so bpcalc takes the derivative 0")
            merged = note if local is None else (local if note is None else (*note, "; ", *local))
            index = self.add(f"derivative of the activation, {self.layer_word(l)}{self.neuron_word(l, j)}",
                             _f(name, names.z(l, j), 1), general,
                             substituted, values[j], "derivative", note=merged, example=self._ex(x))
            self.fprime_step[(l, j, x)] = index
            note = None
        return values

    def output_error(self, x: int, neurons: Sequence[int] | None = None) -> None:
        """BP1: δ^L, with ∂C/∂a and f′(z^L) first (or the fused simplification)."""
        L, names, layer, result = self.L, self.names, self.p.layers[-1], self.s.layers[-1]
        self.begin("Output error (BP1)", x)
        neurons = list(range(layer.size)) if neurons is None else list(neurons)
        scalar = layer.size == 1 or self.scalars or not self.vectors
        vector = layer.size > 1 and self.vectors
        a, t, delta = result.a[x], self.p.targets[x], result.delta[x]
        name = layer.activation.name
        fused = self.p.loss.fused.get(name)
        shown = neurons if scalar else []
        if fused is not None:
            total = float(np.sum(t))
            plain = abs(total - 1.0) < 1e-12 or name == "sigmoid"
            note = self.once("fused", _fused_rule(name, plain, names))
            if vector:
                general = Sub(names.a(L), names.t()) if plain else Sub(Mul(names.a(L), Num(total)), names.t())
                substituted = (Sub(self.vec(a), self.vec(t)) if plain else
                               Sub(Mul(self.vec(a), self.num(total)), self.vec(t))) if self.small(a) else None
                self.delta_step[(L, x)] = self.add(
                    f"error terms, {self.layer_word(L)}", names.delta(L), general, substituted, delta,
                    "BP1", note=note, key=self.key("delta", L, x))
                note = None
            for j in shown:
                if plain:
                    general, substituted = Sub(names.a(L, j), names.t(j)), Sub(self.num(a[j]), self.num(t[j]))
                else:
                    general = Sub(Mul(names.a(L, j), self.num(total)), names.t(j))
                    substituted = Sub(Mul(self.num(a[j]), self.num(total)), self.num(t[j]))
                self.delta_step[(L, x)] = self.add(
                    f"error term, {self.layer_word(L)}{self.neuron_word(L, j)}", names.delta(L, j),
                    general, substituted, delta[j], "BP1", note=note, key=self.key("delta", L, x, j))
                note = None
            return
        self.output_gradient(x, shown if name != "softmax" else list(range(layer.size)),
                             vector=vector)
        grad = self.p.loss.gradient(a[None, :], t[None, :])[0]
        cost = names.cost(x)
        if name == "softmax":
            s_value = float(np.sum(grad * a))
            s = Sym("s")
            self.add("softmax: the outputs' weighted sum of ∂C/∂a", s,
                     _fold(Add, [Mul(names.a(L, k), Partial(cost, names.a(L, k))) for k in range(layer.size)]),
                     _fold(Add, [Mul(self.num(a[k]), self.num(grad[k])) for k in range(layer.size)]),
                     s_value, "derivative", example=self._ex(x),
                     note=self.once("f':softmax", _softmax_rule(names)))
            if vector:
                self.delta_step[(L, x)] = self.add(
                    f"error terms, {self.layer_word(L)}", names.delta(L),
                    Hadamard(names.a(L), Sub(Partial(cost, names.a(L)), s)),
                    Hadamard(self.vec(a), Sub(self.vec(grad), self.num(s_value))) if self.small(a) else None,
                    delta, "BP1", key=self.key("delta", L, x))
            for j in shown:
                self.delta_step[(L, x)] = self.add(
                    f"error term, {self.layer_word(L)}{self.neuron_word(L, j)}", names.delta(L, j),
                    Mul(names.a(L, j), Sub(Partial(cost, names.a(L, j)), s)),
                    Mul(self.num(a[j]), Sub(self.num(grad[j]), self.num(s_value))), delta[j], "BP1",
                    key=self.key("delta", L, x, j))
            return
        fp = self.fprime(L, x, shown, vector)
        identity = name == "identity"
        note = self.once("f':identity", ("a linear output has f′(z) = 1, so δ = ∂C/∂a",)) if identity else None
        if vector:
            general = Partial(cost, names.a(L))
            substituted: Expr | None = self.vec(grad)
            if not identity:
                general = Hadamard(general, _f(name, names.z(L), 1))
                substituted = Hadamard(self.vec(grad), self.vec(fp))
            self.delta_step[(L, x)] = self.add(
                f"error terms, {self.layer_word(L)}", names.delta(L), general,
                substituted if self.small(a) else None, delta, "BP1", key=self.key("delta", L, x), note=note)
            note = None
        for j in shown:
            general = _loss_gradient(self.p.loss.name, names.a(L, j), names.t(j), layer.size)
            substituted = _loss_gradient(self.p.loss.name, self.num(a[j]), self.num(t[j]), layer.size)
            if general is None:
                general, substituted = Partial(cost, names.a(L, j)), self.num(grad[j])
            self.error_term(L, x, j, "BP1", general, substituted, delta[j], fp[j], name, identity, note)
            note = None

    def grouped(self, parameters: Sequence[Parameter] | None) -> dict[int, list[Parameter]]:
        """The chosen parameters (default: all, already grouped) by layer, in order."""
        if parameters is None:
            return self.by_layer
        groups: dict[int, list[Parameter]] = {}
        for parameter in parameters:
            groups.setdefault(parameter.layer, []).append(parameter)
        return groups

    def error_term(self, l: int, x: int, j: int, rule: str, general: Expr | None,
                   substituted: Expr | None, value: float, slope: float, name: str,
                   identity: bool, note: Prose | None) -> None:
        """The scalar step δˡⱼ = (what flows into neuron j)·f′(zˡⱼ), shared by BP1 and BP2."""
        if not identity and general is not None:
            general = Mul(general, _f(name, self.names.z(l, j), 1))
            substituted = Mul(substituted, self.num(slope))
        self.delta_step[(l, x)] = self.add(
            f"error term, {self.layer_word(l)}{self.neuron_word(l, j)}", self.names.delta(l, j),
            general, substituted, value, rule, key=self.key("delta", l, x, j), note=note)

    def backpropagate(self, x: int, down_to: int = 1, last_neurons: Sequence[int] | None = None) -> None:
        """BP2: δ^l for l = L−1 … down_to (only ``last_neurons`` of layer down_to)."""
        names = self.names
        for l in range(self.L - 1, down_to - 1, -1):
            self.begin("Back-propagation (BP2)", x)
            layer, following = self.p.layers[l - 1], self.p.layers[l]
            result, after = self.s.layers[l - 1], self.s.layers[l]
            neurons = list(range(layer.size)) if l != down_to or last_neurons is None else list(last_neurons)
            vector = layer.size > 1 and self.vectors
            shown = neurons if (layer.size == 1 or self.scalars or not self.vectors) else []
            fp = self.fprime(l, x, shown, vector)
            identity = layer.activation.name == "identity"
            name = layer.activation.name
            d_next, delta = after.delta[x], result.delta[x]
            note = self.once("BP2", _bp2_rule(names, l))
            if identity:
                note = (*(note or ()), *(("; " if note else ""), "the layer is linear, f′(z) = 1"))
            if vector:
                general: Expr = MatMul(Transpose(names.w(l + 1)), names.delta(l + 1))
                substituted: Expr | None = MatMul(Transpose(self.mat(following.weights)), self.vec(d_next))
                if not identity:
                    general = Hadamard(general, _f(name, names.z(l), 1))
                    substituted = Hadamard(substituted, self.vec(fp))
                if not self.small(following.weights, d_next):
                    substituted = None
                self.delta_step[(l, x)] = self.add(
                    f"error terms, {self.layer_word(l)}", names.delta(l), general, substituted, delta,
                    "BP2", key=self.key("delta", l, x), note=note)
                note = None
            for j in shown:
                if following.size > MAX_TERMS:
                    general = substituted = None
                    note = (*(note or ()), *(("; " if note else ""), f"the sum runs over the {following.size} "
                                             f"neurons of layer {l + 1}, too many to write out"))
                else:
                    symbols = [Mul(names.w(l + 1, k, j), names.delta(l + 1, k)) for k in range(following.size)]
                    numbers = [Mul(self.num(following.weights[k, j]), self.num(d_next[k]))
                               for k in range(following.size)]
                    general, substituted = _fold(Add, symbols), _fold(Add, numbers)
                self.error_term(l, x, j, "BP2", general, substituted, delta[j], fp[j], name, identity, note)
                note = None

    # -- gradients and the update --------------------------------------------------
    def gradients(self, x: int) -> None:
        """BP3 and BP4 for one example (the gradients of C itself when there is one)."""
        self.begin("Gradients (BP3, BP4)", x)
        names = self.names
        cost = names.cost(x)
        per_example = self.multi
        for l, (layer, result) in enumerate(zip(self.p.layers, self.s.layers), start=1):
            prev, delta = self.a_values(l - 1, x), result.delta[x]
            note = self.once("BP3", ("each weight's gradient is the error term of the neuron it feeds "
                                     "times the activation it carries (BP4); a bias carries 1 (BP3)",))
            if layer.weights.size > 1 and self.vectors:
                value = np.outer(delta, prev) if per_example else result.dC_dw
                substituted = None
                if self.small(delta, prev):
                    substituted = MatMul(self.mat(delta[:, None]), self.mat(prev[None, :]))
                self.add(f"gradients of the weights, {self.layer_word(l)}", Partial(cost, names.w(l)),
                         MatMul(names.delta(l), Transpose(names.a(l - 1))), substituted, value, "BP4",
                         key=None if per_example else f"layers[{l}].dC_dw", note=note, example=self._ex(x))
                note = None
            if layer.bias is not None and layer.size > 1 and self.vectors:
                value = delta if per_example else result.dC_db
                self.add(f"gradients of the biases, {self.layer_word(l)}", Partial(cost, names.b(l)),
                         names.delta(l), self.vec(delta) if self.small(delta) else None, value, "BP3",
                         key=None if per_example else f"layers[{l}].dC_db", example=self._ex(x))
            for parameter in self._parameters(l):
                if self.entry_by_entry(parameter):
                    self.gradient(parameter, x, note=note)
                    note = None

    def _parameters(self, l: int) -> list[Parameter]:
        return self.by_layer.get(l, [])

    def entry_by_entry(self, p: Parameter) -> bool:
        """Is this parameter shown on its own (scalars on, or the only entry of its array)?"""
        layer = self.p.layers[p.layer - 1]
        size = layer.weights.size if p.kind == "weights" else layer.size
        return self.scalars or not self.vectors or size == 1

    def gradient(self, p: Parameter, x: int, note: Prose | None = None) -> int:
        names, l = self.names, p.layer
        cost = names.cost(x)
        delta = self.s.layers[l - 1].delta[x]
        j = p.index[0]
        if p.kind == "weights":
            k = p.index[1]
            prev = self.a_values(l - 1, x)
            general = Mul(names.a(l - 1, k), names.delta(l, j))
            substituted: Expr = Mul(self.num(prev[k]), self.num(delta[j]))
            value, rule = prev[k] * delta[j], "BP4"
        else:
            general, substituted, value, rule = names.delta(l, j), self.num(delta[j]), delta[j], "BP3"
        if not self.multi:
            value = p.gradient
        return self.add(self._gradient_title(p, x), Partial(cost, names.parameter(p)), general, substituted,
                        value, rule, key=None if self.multi else f"gradients.{p.name}",
                        indexed=names.parameter_indexed(p), example=self._ex(x), note=note)

    def _gradient_title(self, p: Parameter, x: int | None) -> str:
        title = f"gradient of {p.name}"
        if x is not None and self.multi:
            title += f" for example {x + 1}"
        return title

    def combine(self, parameters: Sequence[Parameter] | None = None) -> None:
        """C and its gradients over the examples: the mean (or sum) of the per-example ones."""
        names, n = self.names, self.n
        mean = self.p.reduction == "mean"
        self.begin(f"Gradients of C over the {n} examples ({self.p.reduction})")

        def combined(items: list[Expr]) -> Expr:
            total = _fold(Add, items)
            return Div(total, Num(n)) if mean else total

        written = n <= MAX_TERMS
        note = self.once("combine", (f"C is the {self.p.reduction} of the per-example costs, so each "
                                     f"gradient is the {self.p.reduction} of the per-example gradients; "
                                     "the error terms δ stay per example",))
        if parameters is None:
            losses = self.s.example_losses
            self.add(f"cost over the {n} examples", names.cost(),
                     combined([names.cost(x) for x in range(n)]) if written else None,
                     combined([self.num(v) for v in losses]) if written else None,
                     self.s.loss, "cost", key="loss", note=note)
            note = None
        for l, group in self.grouped(parameters).items():
            layer, result = self.p.layers[l - 1], self.s.layers[l - 1]
            prev = [self.a_values(l - 1, x) for x in range(n)]
            if parameters is None and self.vectors and layer.weights.size > 1:
                parts = [np.outer(result.delta[x], prev[x]) for x in range(n)]
                self.add(f"gradients of the weights, {self.layer_word(l)}", Partial(names.cost(), names.w(l)),
                         combined([Partial(names.cost(x), names.w(l)) for x in range(n)]) if written else None,
                         combined([self.mat(m) for m in parts]) if written and self.small(*parts) else None,
                         result.dC_dw, "mean" if mean else "sum", key=f"layers[{l}].dC_dw", note=note)
                note = None
            if parameters is None and self.vectors and layer.bias is not None and layer.size > 1:
                parts = [result.delta[x] for x in range(n)]
                self.add(f"gradients of the biases, {self.layer_word(l)}", Partial(names.cost(), names.b(l)),
                         combined([Partial(names.cost(x), names.b(l)) for x in range(n)]) if written else None,
                         combined([self.vec(v) for v in parts]) if written and self.small(*parts) else None,
                         result.dC_db, "mean" if mean else "sum", key=f"layers[{l}].dC_db", note=note)
                note = None
            for p in group:
                if parameters is None and not self.entry_by_entry(p):
                    continue
                j = p.index[0]
                if p.kind == "weights":
                    parts = [prev[x][p.index[1]] * result.delta[x, j] for x in range(n)]
                else:
                    parts = [result.delta[x, j] for x in range(n)]
                symbol = names.parameter(p)
                self.add(f"gradient of {p.name}", Partial(names.cost(), symbol),
                         combined([Partial(names.cost(x), symbol) for x in range(n)]) if written else None,
                         combined([self.num(v) for v in parts]) if written else None,
                         p.gradient, "mean" if mean else "sum", key=f"gradients.{p.name}",
                         indexed=names.parameter_indexed(p), note=note)
                note = None

    def updates(self, parameters: Sequence[Parameter] | None = None) -> None:
        rate = self.p.learning_rate
        if rate is None:
            return
        names = self.names
        self.begin("SGD update")
        eta = Sym("eta")
        note = self.once("SGD", ("gradient descent moves every parameter against its gradient, ",
                                 _eq(Sym("w"), Sub(Sym("w"), Mul(eta, Partial(Sym("C"), Sym("w")))),
                                     relations=("←",)),
                                 f", with the learning rate η = {format_number(rate, self.digits)}"))
        for l, group in self.grouped(parameters).items():
            layer, result = self.p.layers[l - 1], self.s.layers[l - 1]
            if parameters is None and self.vectors:
                for kind, symbol, old, grad, new, size in (
                        ("weights", names.w(l), layer.weights, result.dC_dw, result.w_updated, layer.weights.size),
                        ("bias", names.b(l), layer.bias, result.dC_db, result.b_updated, layer.size)):
                    if old is None or size <= 1:
                        continue
                    if kind in layer.fixed:
                        self.add(f"the {_PLURAL[kind]} of {self.layer_word(l)} are fixed", symbol, None, None, new,
                                 "SGD", note=("fixed in the problem: not updated",),
                                 key=f"layers[{l}].{'w' if kind == 'weights' else 'b'}_updated")
                        continue
                    substituted = (Sub(self.mat(old) if kind == "weights" else self.vec(old),
                                       Mul(self.num(rate), self.mat(grad) if kind == "weights" else self.vec(grad)))
                                   if self.small(old) else None)
                    self.add(f"SGD update of the {_PLURAL[kind]}, {self.layer_word(l)}", symbol,
                             Sub(symbol, Mul(eta, Partial(Sym("C"), symbol))), substituted, new, "SGD",
                             relation="←", key=f"layers[{l}].{'w' if kind == 'weights' else 'b'}_updated",
                             note=note, digits=self.update_digits(old, new))
                    note = None
            for p in group:
                if parameters is None and not self.entry_by_entry(p):
                    continue
                symbol = names.parameter(p)
                if p.fixed:
                    size = layer.weights.size if p.kind == "weights" else layer.size
                    if parameters is None and self.vectors and size > 1:
                        continue        # the whole array was shown as fixed just above
                    self.add(f"{p.name} is fixed", symbol, None, None, p.updated, "SGD",
                             key=f"updated.{p.name}", indexed=names.parameter_indexed(p),
                             note=(f"the {_PLURAL[p.kind]} of {self.layer_word(l)} are fixed in the "
                                   "problem: not updated",))
                    continue
                self.add(f"SGD update of {p.name}", symbol,
                         Sub(symbol, Mul(eta, Partial(Sym("C"), symbol))),
                         Sub(self.num(p.value), Mul(self.num(rate), self.num(p.gradient))),
                         p.updated, "SGD", relation="←", key=f"updated.{p.name}",
                         indexed=names.parameter_indexed(p), note=note,
                         digits=self.update_digits(p.value, p.updated))
                note = None

    # -- the targeted chain (--param) -------------------------------------------------
    def chain(self, p: Parameter) -> None:
        names, L, l = self.names, self.L, p.layer
        j = p.index[0]
        output = self.p.layers[-1]
        fused = self.p.loss.fused.get(output.activation.name)
        unique = (all(layer.size == 1 for layer in self.p.layers[l:])
                  and (output.activation.elementwise or fused is not None))
        symbol = names.parameter(p)
        self.param_mode = True
        for x in range(self.n):
            self.forward(x, cost=False)
            self.begin(f"Chain rule for ∂C/∂{p.name}", x)
            cost = names.cost(x)
            # the neuron of each layer on the path from the parameter to the cost
            path = {m: 0 for m in range(l + 1, L + 1)}
            path[l] = j
            if unique:
                self._unique_chain(p, x, path, fused is not None)
            else:
                if l == L:
                    self.output_error(x, neurons=[j])
                else:
                    self.output_error(x)
                    self.backpropagate(x, down_to=l, last_neurons=[j])
                self.begin(f"Chain rule for ∂C/∂{p.name}", x)
                delta = self.s.layers[l - 1].delta[x]
                z = names.z(l, j)
                if p.kind == "weights":
                    k = p.index[1]
                    prev = self.a_values(l - 1, x)
                    general: Expr = Mul(names.delta(l, j), names.a(l - 1, k))
                    substituted: Expr = Mul(self.num(delta[j]), self.num(prev[k]))
                    value = delta[j] * prev[k]
                else:
                    general, substituted, value = names.delta(l, j), self.num(delta[j]), delta[j]
                self.add(self._gradient_title(p, x), Partial(cost, symbol), general, substituted,
                         p.gradient if not self.multi else value, "BP4" if p.kind == "weights" else "BP3",
                         chain=Mul(Partial(cost, z), Partial(z, symbol)),
                         key=None if self.multi else f"gradients.{p.name}",
                         indexed=names.parameter_indexed(p), example=self._ex(x),
                         note=("∂C/∂z is the error term δ of the neuron the parameter feeds",))
        if self.multi:
            self.combine([p])
        self.updates([p])

    def _unique_chain(self, p: Parameter, x: int, path: dict[int, int], fused: bool) -> None:
        """One neuron per layer above the parameter: C depends on it along a single path, so
        ∂C/∂p is a plain product of one factor per link."""
        names, L, l = self.names, self.L, p.layer
        cost = names.cost(x)
        output = self.p.layers[-1]
        jL = path[L]
        a_L, t = self.s.layers[-1].a[x], self.p.targets[x]
        partials: list[Expr] = []
        symbols: list[Expr] = []
        numbers: list[Expr] = []
        if fused:
            total = float(np.sum(t))
            plain = abs(total - 1.0) < 1e-12 or output.activation.name == "sigmoid"
            partials.append(Partial(cost, names.z(L, jL)))
            if plain:
                symbols.append(Sub(names.a(L, jL), names.t(jL)))
                numbers.append(Sub(self.num(a_L[jL]), self.num(t[jL])))
            else:
                symbols.append(Sub(Mul(names.a(L, jL), self.num(total)), names.t(jL)))
                numbers.append(Sub(Mul(self.num(a_L[jL]), self.num(total)), self.num(t[jL])))
            note: Prose | None = self.once("fused", _fused_rule(output.activation.name, plain, names))
        else:
            note = None
            self.output_gradient(x, [jL], vector=False)
            grad = self.p.loss.gradient(a_L[None, :], t[None, :])[0]
            partials.append(Partial(cost, names.a(L, jL)))
            general = _loss_gradient(self.p.loss.name, names.a(L, jL), names.t(jL), output.size)
            if general is None:
                symbols.append(Partial(cost, names.a(L, jL)))
                numbers.append(self.num(grad[jL]))
            else:
                symbols.append(general)
                numbers.append(_loss_gradient(self.p.loss.name, self.num(a_L[jL]), self.num(t[jL]), output.size))
        for m in range(L, l - 1, -1):
            jm = path[m]
            layer = self.p.layers[m - 1]
            if not (fused and m == L):
                fp = self.fprime(m, x, [jm], vector=False)
                partials.append(Partial(names.a(m, jm), names.z(m, jm)))
                if layer.activation.name == "identity":
                    symbols.append(Num(1))
                    numbers.append(Num(1))
                else:
                    symbols.append(_f(layer.activation.name, names.z(m, jm), 1))
                    numbers.append(self.num(fp[jm]))
            if m > l:
                below = path[m - 1]
                partials.append(Partial(names.z(m, jm), names.a(m - 1, below)))
                symbols.append(names.w(m, jm, below))
                numbers.append(self.num(layer.weights[jm, below]))
        z = names.z(l, path[l])
        symbol = names.parameter(p)
        partials.append(Partial(z, symbol))
        if p.kind == "weights":
            k = p.index[1]
            symbols.append(names.a(l - 1, k))
            numbers.append(self.num(self.a_values(l - 1, x)[k]))
            value = self.s.layers[l - 1].delta[x, path[l]] * self.a_values(l - 1, x)[k]
        else:
            symbols.append(Num(1))
            numbers.append(Num(1))
            value = self.s.layers[l - 1].delta[x, path[l]]
        self.begin(f"Chain rule for ∂C/∂{p.name}", x)
        self.add(self._gradient_title(p, x), Partial(cost, symbol), _fold(Mul, symbols), _fold(Mul, numbers),
                 p.gradient if not self.multi else value, "chain", chain=_fold(Mul, partials),
                 key=None if self.multi else f"gradients.{p.name}", indexed=names.parameter_indexed(p),
                 example=self._ex(x), note=note)

    # -- warnings -------------------------------------------------------------------
    def warn(self) -> None:
        start = len(self.cautions)
        self._warn()
        found = self.cautions[start:]
        del self.cautions[start:]
        groups: dict[tuple[str, int | None], list[Caution]] = {}
        for caution in found:
            groups.setdefault((caution.kind, caution.layer), []).append(caution)
        for (kind, layer), group in groups.items():
            if len(group) <= 3 or kind not in ("saturated", "dead_relu"):
                self.cautions.extend(group)
                continue
            neurons = ", ".join(str(c.neuron + 1) for c in group[:12]) + (" …" if len(group) > 12 else "")
            size = self.p.layers[layer - 1].size
            what = ("have a saturated activation (f′ < " + format_number(SATURATED) + ")"
                    if kind == "saturated" else "are dead ReLUs (z ≤ 0, so f′ = 0 and δ = 0)")
            always = sum(len(c.examples) == self.n for c in group)
            where = "" if not self.multi else (
                " in every example" if always == len(group) else
                f" in at least one example ({always} of them in every example)")
            examples = sorted({x for c in group for x in c.examples})
            self.cautions.append(Caution(kind, (
                f"{len(group)} of the {size} neurons of layer {layer} {what}{where}: neurons {neurons}. "
                + ("Gradients through them are scaled down to almost nothing." if kind == "saturated" else
                   "The weights into them get no gradient there, and nothing flows back through them."),),
                group[0].step, layer, None, tuple(examples)))

    def _warn(self) -> None:
        names = self.names
        fused = self.p.loss.fused.get(self.p.layers[-1].activation.name) is not None
        for l, (layer, result) in enumerate(zip(self.p.layers, self.s.layers), start=1):
            name = layer.activation.name
            for j in range(layer.size):
                z = result.z[:, j]
                if name in ("sigmoid", "tanh") and not (fused and l == self.L):
                    prime = layer.activation.prime(result.z[:, [j]], **layer.params)[:, 0]
                    bad = [x for x in range(self.n) if prime[x] < SATURATED]
                    if bad:
                        x = min(bad, key=lambda e: prime[e])
                        fn = _f(name, names.z(l, j), 1)
                        self.cautions.append(Caution(
                            "saturated",
                            (f"saturated {'sigmoid' if name == 'sigmoid' else 'tanh'}: ",
                             _eq(names.z(l, j), self.num(z[x])), " gives ",
                             _eq(fn, self.num(prime[x]), relations=("≈",)),
                             self._where(x, bad, f"{unicode(fn)} < {format_number(SATURATED)}"),
                             ". Every gradient through this neuron is multiplied by this tiny slope, "
                             "so it learns slowly: the larger |z|, the flatter the curve."),
                            self._anchor(l, j, [x]), l, j, tuple(bad)))
                if name == "relu":
                    dead = [x for x in range(self.n) if z[x] <= 0]
                    if dead:
                        x = dead[0]
                        incoming = [p.name for p in self.by_layer.get(l, []) if p.index[0] == j]
                        if len(incoming) > 6:
                            incoming = [*incoming[:3], "…", incoming[-1], f"({len(incoming)} parameters)"]
                        relation = "<" if z[x] < 0 else "="
                        self.cautions.append(Caution(
                            "dead_relu",
                            ("dead ReLU: ", _eq(names.z(l, j), self.num(z[x]), Num(0), relations=("=", relation)),
                             self._where(x, dead, f"{unicode(names.z(l, j))} ≤ 0"), ", so ",
                             _eq(_f(name, names.z(l, j), 1), Num(0)), " and ", _eq(names.delta(l, j), Num(0)),
                             f": the gradients of {', '.join(incoming).replace('…,', '…')} get nothing from "
                             + ("this example" if self.multi and len(dead) < self.n else "it")
                             + ", and nothing flows back through this neuron to the layers before it."),
                            self._anchor(l, j, [x]), l, j, tuple(dead)))
        if self.L >= 3:         # with two layers a small ratio is one saturated neuron, warned above
            peaks = [float(np.max(np.abs(r.delta))) for r in self.s.layers]
            top, bottom = peaks[-1], peaks[0]
            if top > 0 and bottom > 0:
                ratio = bottom / top
                kind = "vanishing" if ratio < VANISHING else "exploding" if ratio > EXPLODING else None
                if kind:
                    per_layer = ratio ** (1.0 / (self.L - 1))
                    self.cautions.append(Caution(
                        kind,
                        (f"{kind} gradient: the largest |δ| goes from {format_number(top, self.digits)} "
                         f"in the output layer to {format_number(bottom, self.digits)} in layer 1, "
                         f"a factor of about {format_number(per_layer, 2)} per layer. "
                         + ("The first layers barely learn: each layer multiplies δ by its weights and "
                            "by f′(z), which is at most 1/4 for a sigmoid."
                            if kind == "vanishing" else
                            "The first layers get huge updates: large weights (and f′ near 1) multiply "
                            "δ at every layer; a smaller learning rate or smaller weights help.")),
                        self.delta_step.get((1, 0)), 1))

    def _where(self, x: int, which: list[int], condition: str) -> str:
        """For a batch: in which example, and whether the others share the condition."""
        if not self.multi:
            return ""
        text = f" in example {x + 1}"
        if len(which) == self.n:
            return text + f" ({condition} in every example)"
        if len(which) > 1:
            return text + f" ({condition} also in example{'s' if len(which) > 2 else ''} " + ", ".join(
                str(e + 1) for e in which if e != x) + ")"
        return text

    def _anchor(self, l: int, j: int, examples: list[int]) -> int | None:
        for x in examples:
            if (l, j, x) in self.fprime_step:
                return self.fprime_step[(l, j, x)]
        for x in examples:
            if (l, x) in self.delta_step:
                return self.delta_step[(l, x)]
        return None

    def finish(self, title: str, intro: tuple[Prose, ...], param: str | None) -> Derivation:
        self.warn()
        for index in self.dropped:
            self.cautions.append(Caution("arithmetic", (
                "bpcalc could not show this step's arithmetic exactly, so only its result is shown",),
                index))
        return Derivation(title, tuple(self.steps), tuple(self.cautions), tuple(self.sections), intro,
                          digits=self.digits, param=param, scalars=self.scalars)


def _fused_rule(name: str, plain: bool, names: Names) -> Prose:
    L = names.L
    a = names.a(L) if not names.chain else names.a(L, 0)
    t = names.t()
    if name == "sigmoid":
        y = a
        return ("simplification for a sigmoid output with binary cross-entropy: ",
                _eq(Partial(Sym("C"), y), Div(Sub(y, t), Mul(y, Sub(Num(1), y)))), " and ",
                _eq(_f("sigmoid", names.z(L) if not names.chain else names.z(L, 0), 1), Mul(y, Sub(Num(1), y))),
                " cancel, so ", _eq(names.delta(L) if not names.chain else names.delta(L, 0), Sub(y, t)),
                " exactly (even where σ′ underflows)")
    if plain:
        return ("simplification for a softmax output with cross-entropy: the softmax Jacobian and ",
                _eq(Partial(Sym("C"), Sym("a", "j")), Neg(Div(Sym("t", "j"), Sym("a", "j")))),
                " combine to ", _eq(names.delta(L), Sub(names.a(L), names.t())),
                " (the targets add up to 1)")
    return ("simplification for a softmax output with cross-entropy: ",
            TeX("δᴸⱼ = aᴸⱼ·Σₖ tₖ − tⱼ", r"\delta^{L}_{j} = a^{L}_{j} \sum_k t_k - t_j"),
            "; these targets do not add up to 1, so the factor ", TeX("Σₖ tₖ", r"\sum_k t_k"), " stays")


def _softmax_rule(names: Names) -> Prose:
    return ("softmax couples its outputs: ",
            TeX("∂aₖ/∂zⱼ = aₖ(1 − aⱼ) for k = j and −aₖaⱼ otherwise",
                r"\frac{\partial a_k}{\partial z_j} = a_k(1 - a_j) \text{ for } k = j"
                r"\text{ and } -a_k a_j \text{ otherwise}"),
            ", so ", TeX("δⱼ = aⱼ(∂C/∂aⱼ − s) with s = Σₖ aₖ·∂C/∂aₖ",
                         r"\delta_j = a_j\left(\frac{\partial C}{\partial a_j} - s\right)"
                         r"\text{ with } s = \sum_k a_k \frac{\partial C}{\partial a_k}"))


def _bp2_rule(names: Names, l: int) -> Prose:
    return ("BP2: δ flows back along the same weights. ",
            TeX("wˡ⁺¹ₖⱼ", r"w^{l+1}_{kj}"),
            " connects neuron j of layer l to neuron k of layer l + 1, so ",
            TeX("δˡⱼ = (Σₖ wˡ⁺¹ₖⱼ δˡ⁺¹ₖ)·f′(zˡⱼ)",
                r"\delta^{l}_{j} = \left(\sum_k w^{l+1}_{kj} \delta^{l+1}_{k}\right) f'(z^{l}_{j})"),
            ": a column of w, i.e. the transpose, and the slope f′, not f")


# ------------------------------------------------------------------ entry points

def _auto_scalars(problem: Problem) -> bool:
    widths = [problem.inputs.shape[1], *(layer.size for layer in problem.layers)]
    return max(widths) <= SCALAR_WIDTH


def find_parameter(solution: Solution, name: str) -> Parameter:
    """The parameter called ``name``, or a one-line error listing the names."""
    parameters = list(solution.parameters())
    for p in parameters:
        if p.name == name:
            return p
    names = [p.name for p in parameters]
    shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
    where = solution.problem.source or "<problem>"
    raise BpcalcError(f"{where}: no parameter named {name!r}{did_you_mean(name, names)}; "
                      f"the parameters are: {shown}")


def _intro(problem: Problem, names: Names, digits: int) -> tuple[Prose, ...]:
    lines: list[Prose] = []
    if names.chain:
        inputs = "x" if names.inputs == 1 else ", ".join(f"x{k + 1}" for k in range(names.inputs))
        zs = ", ".join(f"z{l}" for l in range(1, names.L + 1))
        hidden = [f"a{l}" for l in range(1, names.L)]
        hidden_text = ""
        if hidden:
            hidden_text = f"{', '.join(hidden)} the hidden activation{'s' if len(hidden) > 1 else ''}, "
        lines.append((f"Notation, as in the course: {inputs} the input, t the target, {zs} the weighted "
                      f"input{'s' if names.L > 1 else ''}, " + hidden_text + "y the output, ",
                      _eq(names.delta(names.L), Partial(Sym("C"), names.z(names.L))),
                      f" the error term of layer {names.L} (and so on for each layer), and the "
                      "problem's own parameter names."))
    else:
        lines.append(("Notation (Nielsen): ", Math((Sym("z", "j", "l"),)), " and ", Math((Sym("a", "j", "l"),)),
                      " are the weighted input and activation of neuron j in layer l (", _eq(Sym("x"), Sym("a", sup="0")),
                      " is the input), ",
                      Math((Sym("w", "jk", "l"),)), " is the weight from neuron k of layer l − 1 to neuron j "
                      "of layer l, ", Math((Sym("b", "j", "l"),)), " its bias, t the target and ",
                      _eq(Sym("delta", "j", "l"), Partial(Sym("C"), Sym("z", "j", "l"))),
                      " the error term. Parameter names from the problem are given in the titles."))
    lines.append((f"Numbers are shown to {digits} significant digits, but every step is computed with "
                  "full precision: ≈ marks a rounded result, and redoing a step with the rounded "
                  "numbers can differ in the last digit.",))
    if len(problem.inputs) > 1:
        lines.append((f"{len(problem.inputs)} examples: the forward and backward passes are done for "
                      "each example x, with its own cost ", Math((Sym("C", "x"),)),
                      f"; the gradients of C are the {problem.reduction} of the per-example gradients.",))
    if problem.learning_rate is None:
        lines.append(("The problem gives no learning_rate, so there is no SGD update.",))
    return tuple(lines)


def _same_problem(problem: Problem, solution: Solution) -> None:
    if solution.problem is not problem:
        raise ValueError("the solution was computed for another problem: pass "
                         "derive(solution.problem, solution)")


def derive(problem: Problem, solution: Solution, *, scalars: bool | None = None,
           param: str | None = None, digits: int = DEFAULT_DIGITS) -> Derivation:
    """The derivation of a solved problem: forward pass, BP1, BP2, BP3/BP4 and the update
    (per example, then combined, for a batch). ``param`` gives only the chain that the
    gradient of that parameter needs; ``scalars`` (default: on for layers of at most
    SCALAR_WIDTH neurons) adds every scalar entry after each vector form."""
    _same_problem(problem, solution)
    names = Names(problem)
    if scalars is None:
        scalars = _auto_scalars(problem)
    title = problem.title or problem.source or "Problem"
    if param is not None:
        parameter = find_parameter(solution, param)
        builder = _Builder(problem, solution, names, digits, scalars=True, vectors=False)
        builder.chain(parameter)
        intro = _intro(problem, names, digits)
        return builder.finish(f"{title}: ∂C/∂{param}", intro, param)
    estimate = _estimate(problem, scalars)
    if estimate > MAX_STEPS:
        raise BpcalcError(f"{problem.source or '<problem>'}: written out entry by entry this derivation "
                          f"would have about {estimate:,} steps; use --no-scalars, or --param NAME for "
                          "the chain of one parameter")
    builder = _Builder(problem, solution, names, digits, scalars, vectors=not names.chain)
    for x in range(len(problem.inputs)):
        builder.forward(x)
        builder.output_error(x)
        builder.backpropagate(x)
        builder.gradients(x)
    if builder.multi:
        builder.combine()
    builder.updates()
    return builder.finish(title, _intro(problem, names, digits), None)


def _estimate(problem: Problem, scalars: bool) -> int:
    per_example = 0
    for layer in problem.layers:
        entries = layer.size * 5 + layer.weights.size + (layer.size if layer.bias is not None else 0)
        per_example += entries if scalars else 8
    examples = len(problem.inputs)
    total_parameters = sum(layer.weights.size + (layer.size if layer.bias is not None else 0)
                           for layer in problem.layers)
    return per_example * examples + (2 * total_parameters if scalars else 4 * len(problem.layers))


# ------------------------------------------------------------------ concepts

def concepts(problem: Problem, solution: Solution, digits: int = DEFAULT_DIGITS) -> Derivation:
    """The course's concept questions answered from this network: the four equations with
    this network's numbers, why BP2 uses the transpose and f′, and σ′ shrinking with |z|."""
    _same_problem(problem, solution)
    names = Names(problem)
    full = derive(problem, solution, scalars=True, digits=digits) if _estimate(problem, True) <= MAX_STEPS \
        else derive(problem, solution, scalars=False, digits=digits)
    b = _Builder(problem, solution, names, digits, scalars=True, vectors=not names.chain)
    generic = {
        "BP1": (Sym("delta", sup="L"), Hadamard(Partial(Sym("C"), Sym("a", sup="L")), Call("f", (Sym("z", sup="L"),), 1)),
                TeX("δᴸⱼ = ∂C/∂aᴸⱼ · f′(zᴸⱼ)",
                    r"\delta^{L}_{j} = \frac{\partial C}{\partial a^{L}_{j}} f'(z^{L}_{j})"),
                "the output error: how fast C changes with the output's weighted input"),
        "BP2": (Sym("delta", sup="l"),
                Hadamard(MatMul(Transpose(Sym("w", sup="l+1")), Sym("delta", sup="l+1")), Call("f", (Sym("z", sup="l"),), 1)),
                TeX("δˡⱼ = Σₖ wˡ⁺¹ₖⱼ δˡ⁺¹ₖ · f′(zˡⱼ)",
                    r"\delta^{l}_{j} = \sum_k w^{l+1}_{kj} \delta^{l+1}_{k} \, f'(z^{l}_{j})"),
                "the error of a layer from the error of the next one"),
        "BP3": (Partial(Sym("C"), Sym("b", sup="l")), Sym("delta", sup="l"),
                TeX("∂C/∂bˡⱼ = δˡⱼ", r"\frac{\partial C}{\partial b^{l}_{j}} = \delta^{l}_{j}"),
                "a bias's gradient is the error term of its neuron"),
        "BP4": (Partial(Sym("C"), Sym("w", sup="l")), MatMul(Sym("delta", sup="l"), Transpose(Sym("a", sup="l-1"))),
                TeX("∂C/∂wˡⱼₖ = aˡ⁻¹ₖ δˡⱼ",
                    r"\frac{\partial C}{\partial w^{l}_{jk}} = a^{l-1}_{k} \delta^{l}_{j}"),
                "a weight's gradient is the activation it carries times the error of the neuron it feeds"),
    }
    b.begin("The four equations of back-propagation")
    for rule, (lhs, general, index_form, words) in generic.items():
        b.add(f"{rule}, in general", lhs, general, None, None, rule,
              note=(f"{words}; entry by entry: ", index_form))
        example = next((s for s in full.steps if s.rule == rule and s.value is not None
                        and (s.example in (None, 0))), None)
        if example is None and rule == "BP2":
            b.add("BP2 in this network", lhs, None, None, None, rule,
                  note=("this network has no hidden layer, so BP2 is never needed here",))
        elif example is not None:
            b.steps.append(Step(b.section, f"{rule} in this network: {example.title}", example.lhs,
                                example.general, example.substituted, example.value, rule,
                                note=example.note, indexed=example.indexed, key=example.key,
                                example=example.example, digits=digits))
    b.noted.clear()
    _transpose_section(b, problem, solution)
    tables = (_sigma_table(b, problem, solution),)
    return Derivation(f"{problem.title or problem.source or 'Problem'}: concepts", tuple(b.steps), (),
                      tuple(b.sections), (), tables, digits, None, True)


def _transpose_section(b: _Builder, problem: Problem, solution: Solution) -> None:
    names, L = b.names, len(problem.layers)
    b.begin("Why BP2 uses the transpose and f′, not f")
    if L < 2:
        b.add("no hidden layer", Sym("delta", sup="l"), None, None, None, "BP2", note=(
            "this network has no hidden layer, so BP2 is never used. In general, ",
            TeX("δˡ = ((wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ f′(zˡ)",
                r"\delta^{l} = \left((w^{l+1})^{\mathsf{T}} \delta^{l+1}\right) \odot f'(z^{l})"),
            ": z of neuron j reaches the cost only through a = f(z), whose slope is f′(z), and a "
            "feeds neuron k of the next layer through the weight in row k, column j",))
        return
    l, j, x = L - 1, 0, 0
    layer, following = problem.layers[l - 1], problem.layers[l]
    result, after = solution.layers[l - 1], solution.layers[l]
    d_next = after.delta[x]
    fp = layer.activation.prime(result.z[[x]], **layer.params)[0]
    f_value = result.a[x]
    name = layer.activation.name
    symbols = [Mul(names.w(l + 1, k, j), names.delta(l + 1, k)) for k in range(following.size)]
    numbers = [Mul(b.num(following.weights[k, j]), b.num(d_next[k])) for k in range(following.size)]
    total = float(np.sum(following.weights[:, j] * d_next))
    b.add("the error term of a hidden neuron, right", names.delta(l, j),
          Mul(_fold(Add, symbols), _f(name, names.z(l, j), 1)), Mul(_fold(Add, numbers), b.num(fp[j])),
          result.delta[x, j], "BP2", key=b.key("delta", l, x, j), note=(
              "z of this neuron reaches the cost only through its activation a = f(z): the chain rule "
              "multiplies by the slope ∂a/∂z = f′(z). And a feeds neuron k of the next layer through "
              "the weight in row k, column j of the next weight matrix, so the sum runs over the rows k "
              "of column j: a row of the transpose.",))
    wrong_f = total * f_value[j]
    b.add("wrong: f instead of f′", Sym("delta", names.delta(l, j).sub, names.delta(l, j).sup),
          Mul(_fold(Add, symbols), _f(name, names.z(l, j))), Mul(_fold(Add, numbers), b.num(f_value[j])),
          wrong_f, "BP2", note=("multiplying by the activation's value f(z) instead of its slope gives "
                                "a different number: f(z) is how large the output is, not how fast it "
                                "changes",))
    if following.weights.shape[0] == following.weights.shape[1] and following.size > 1:
        wrong_symbols = [Mul(names.w(l + 1, j, k), names.delta(l + 1, k)) for k in range(following.size)]
        wrong_numbers = [Mul(b.num(following.weights[j, k]), b.num(d_next[k])) for k in range(following.size)]
        wrong_value = float(np.sum(following.weights[j, :] * d_next)) * fp[j]
        b.add("wrong: the row of w instead of its column (no transpose)", names.delta(l, j),
              Mul(_fold(Add, wrong_symbols), _f(name, names.z(l, j), 1)),
              Mul(_fold(Add, wrong_numbers), b.num(fp[j])), wrong_value, "BP2",
              note=("using the row of neuron j instead of its column sums the weights that feed "
                    "neuron j of the next layer, not the ones that neuron j of this layer feeds",))
    elif following.size == 1 and layer.size == 1:
        b.add("the transpose with one neuron per layer", names.delta(l, j), None, None, None, "BP2",
              note=("with one neuron per layer, ", TeX("wₖⱼ", "w_{kj}"), " and ", TeX("wⱼₖ", "w_{jk}"),
                    " are the same single weight, so the transpose only matters once a layer has "
                    "several neurons",))
    else:
        b.add("wrong: the row of w instead of its column (no transpose)", names.delta(l, j), None, None, None, "BP2",
              note=(f"here the next weight matrix is {following.weights.shape[0]}×{following.weights.shape[1]}: "
                    "without the transpose the sum would not even match up (a row has one weight per "
                    "neuron of this layer, δ of the next layer has one entry per neuron there)",))


def _sigma_table(b: _Builder, problem: Problem, solution: Solution) -> Table:
    from .activations import SIGMOID

    names = b.names
    b.begin("σ′(z) shrinks as |z| grows")
    rows: list[tuple[Any, float]] = []
    seen: set[float] = set()
    sigmoid_layers = [l for l, layer in enumerate(problem.layers, start=1) if layer.activation.name == "sigmoid"]
    layers = sigmoid_layers or list(range(1, len(problem.layers) + 1))
    for l in layers:
        result = solution.layers[l - 1]
        for x in range(min(len(problem.inputs), 3)):
            for j in range(min(problem.layers[l - 1].size, 4)):
                z = float(result.z[x, j])
                label: Any = Math((names.z(l, j),))
                if len(problem.inputs) > 1:
                    label = (label, f", example {x + 1}")
                rows.append((label, z))
                seen.add(z)
    for z in (0.0, 1.0, 2.0, 4.0, 6.0, 10.0):
        if z not in seen:
            rows.append(("for comparison", z))
    rows.sort(key=lambda row: abs(row[1]))
    table_rows = []
    for label, z in rows:
        s = float(SIGMOID(np.array([z]))[0])
        prime = s * (1.0 - s)
        table_rows.append((label, z, s, prime, prime / 0.25))
    b.add("the largest slope", Call("sigma", (Num(0),), 1), Mul(Call("sigma", (Num(0),)), Sub(Num(1), Call("sigma", (Num(0),)))),
          Mul(HALF, Sub(Num(1), HALF)), 0.25, "derivative", note=(
              "σ′(z) = σ(z)(1 − σ(z)) is largest at z = 0, where it is ¼; as |z| grows σ(z) tends to 0 or "
              "1 and σ′(z) to 0: its magnitude becomes small (the sigmoid saturates), and every δ that "
              "passes through such a neuron is scaled down with it."
              + ("" if sigmoid_layers else " This network has no sigmoid layer; the table uses its z "
                 "values all the same."),))
    return Table(b.section, "σ′ at this problem's own z", ("", "z", "σ(z)", "σ′(z)", "σ′(z) / ¼"),
                 tuple(table_rows), note=("σ′(0) = ¼ is the largest possible slope.",))
