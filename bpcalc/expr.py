"""Expression trees shared by derivations (step-by-step explanations) and student formulas.

One set of immutable nodes, one precedence table, three printers (Unicode, LaTeX and the
course grader's ASCII syntax) and one evaluator, so a formula a student types and a step
bpcalc explains are the same kind of object, bracketed and computed alike.

Evaluation follows Open edX's ``calc.evaluator`` value by value (Python scalar arithmetic,
edX's NumPy/scimath functions, integer literals kept exact, and edX's reductions: a sum
starts from 0 and a product from 1, so even signed zeros, hence complex branch cuts, match),
so a formula edX accepts gets edX's number.  Where edX raises or gives NaN, bpcalc is defined
instead of failing: division by zero gives ±inf/nan (NumPy's rule, also for Python numbers),
a negative real base with a non-integer exponent gives the principal complex power (Python's
rule, also for NumPy numbers and arrays), and ``abs`` of an integer stays an exact ``int``
(edX's ``numpy.abs`` silently wraps ``abs(-10)^30`` around in int64).

Arrays work throughout (one value per sample): ``Vector`` gives a 1-D array, ``Matrix`` a 2-D
one, ``MatMul`` is ``@``, ``Hadamard`` is ``*`` and ``Transpose`` is ``.T``.

Symbol keys (the names :func:`evaluate` looks up): ``Sym("z")`` is ``"z"``;
``Sym("z", sub="1", sup="2")`` is ``"z^2_1"`` (name, then ``^sup``, then ``_sub``).
Constants ``e``, ``pi``, ``i`` and ``j`` are ordinary symbols that fall back to
:data:`CONSTANTS` when the environment has no value for them (as edX's ``add_defaults``:
a user variable ``j`` wins over the imaginary unit).  Lookups are exact first, then
case-insensitive when that is unambiguous (edX is case-insensitive by default).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from .errors import FormulaError
from .numbers import format_number

__all__ = [
    "Expr", "Num", "Sym", "Neg", "Add", "Sub", "Mul", "Div", "Pow", "Parallel", "Call",
    "Hadamard", "MatMul", "Transpose", "Vector", "Matrix", "Partial", "HALF",
    "Compare", "Piecewise", "Sum", "RELATIONS", "function_table",
    "PREC_SUM", "PREC_MUL", "PREC_PARALLEL", "PREC_POW", "PREC_POSTFIX", "PREC_ATOM",
    "PRECEDENCE", "precedence", "format_number",
    "Printer", "UnicodePrinter", "LatexPrinter", "TextPrinter",
    "to_unicode", "to_latex", "to_text", "to_json", "from_json", "symbols", "substitute",
    "nodes", "bottom_up",
    "evaluate",
    "Function", "FUNCTIONS", "CONSTANTS", "GREEK",
]

Number = int | float | complex


# --------------------------------------------------------------------------- nodes


class Expr:
    """Base of all nodes; Python operators build trees (``a * b`` is ``Mul(a, b)``)."""

    __slots__ = ()

    def __add__(self, other: Any) -> Expr:
        return Add(self, _wrap(other))

    def __radd__(self, other: Any) -> Expr:
        return Add(_wrap(other), self)

    def __sub__(self, other: Any) -> Expr:
        return Sub(self, _wrap(other))

    def __rsub__(self, other: Any) -> Expr:
        return Sub(_wrap(other), self)

    def __mul__(self, other: Any) -> Expr:
        return Mul(self, _wrap(other))

    def __rmul__(self, other: Any) -> Expr:
        return Mul(_wrap(other), self)

    def __truediv__(self, other: Any) -> Expr:
        return Div(self, _wrap(other))

    def __rtruediv__(self, other: Any) -> Expr:
        return Div(_wrap(other), self)

    def __pow__(self, other: Any) -> Expr:
        return Pow(self, _wrap(other))

    def __rpow__(self, other: Any) -> Expr:
        return Pow(_wrap(other), self)

    def __matmul__(self, other: Any) -> Expr:
        return MatMul(self, _wrap(other))

    def __neg__(self) -> Expr:
        return Neg(self)

    def __str__(self) -> str:
        return to_unicode(self)


def _wrap(value: Any) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, (int, float, complex, np.number)) and not isinstance(value, bool):
        return Num(value)
    raise TypeError(f"cannot use {type(value).__name__} in an expression")


@dataclass(frozen=True, slots=True)
class Num(Expr):
    """A number.  ``text``/``latex`` say how to display it (e.g. a value rounded for a step,
    or ``"½"``/``r"\\tfrac{1}{2}"``); they do not take part in equality.  Integer literals
    from formulas are ``int`` so integer arithmetic stays exact, as in edX."""

    value: Number
    text: str | None = field(default=None, compare=False)
    latex: str | None = field(default=None, compare=False)


HALF = Num(0.5, text="½", latex=r"\tfrac{1}{2}")


@dataclass(frozen=True, slots=True)
class Sym(Expr):
    """A symbol; ``sub``/``sup`` are display indices (``Sym("z", "1", "2")`` is z²₁)."""

    name: str
    sub: str | None = None
    sup: str | None = None

    @property
    def key(self) -> str:
        """The environment name: ``name``, then ``^sup``, then ``_sub`` (``"z^2_1"``)."""
        key = self.name
        if self.sup is not None:
            key += f"^{self.sup}"
        if self.sub is not None:
            key += f"_{self.sub}"
        return key


@dataclass(frozen=True, slots=True)
class Neg(Expr):
    operand: Expr


@dataclass(frozen=True, slots=True)
class Add(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Sub(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Mul(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Div(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Pow(Expr):
    base: Expr
    exponent: Expr


@dataclass(frozen=True, slots=True)
class Parallel(Expr):
    """edX's ``a || b`` = 1/(1/a + 1/b), NaN if an operand is 0."""

    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Call(Expr):
    """``name(args)``; ``derivative=1`` is f′ (σ′(z))."""

    name: str
    args: tuple[Expr, ...]
    derivative: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.args, tuple):
            object.__setattr__(self, "args", tuple(self.args))


@dataclass(frozen=True, slots=True)
class Hadamard(Expr):
    """Elementwise product ⊙."""

    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class MatMul(Expr):
    """Matrix product, written by juxtaposition (a space in Unicode, ``\\,`` in LaTeX)."""

    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Transpose(Expr):
    operand: Expr


@dataclass(frozen=True, slots=True)
class Vector(Expr):
    """A column vector."""

    items: tuple[Expr, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.items, tuple):
            object.__setattr__(self, "items", tuple(self.items))


@dataclass(frozen=True, slots=True)
class Matrix(Expr):
    rows: tuple[tuple[Expr, ...], ...]

    def __post_init__(self) -> None:
        rows = tuple(tuple(row) for row in self.rows)
        if len({len(row) for row in rows}) > 1:
            raise ValueError("Matrix rows must have the same length")
        object.__setattr__(self, "rows", rows)


@dataclass(frozen=True, slots=True)
class Partial(Expr):
    """∂of/∂wrt: for display only (evaluating it raises)."""

    of: Expr
    wrt: Expr


RELATIONS = (">", "<", "≥", "≤", "=", "≠")
LATEX_RELATIONS = {">": ">", "<": "<", "≥": r"\ge", "≤": r"\le", "=": "=", "≠": r"\ne"}
TEXT_RELATIONS = {">": ">", "<": "<", "≥": ">=", "≤": "<=", "=": "==", "≠": "!="}


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    """``left relation right`` (z > 0): the conditions of a :class:`Piecewise`."""

    left: Expr
    relation: str
    right: Expr

    def __post_init__(self) -> None:
        if self.relation not in RELATIONS:
            raise ValueError(f"unknown relation {self.relation!r}")


@dataclass(frozen=True, slots=True)
class Piecewise(Expr):
    """``value₁ for condition₁, …, valueₙ otherwise``: kinked functions (ReLU′, ELU, Huber).
    Each piece is (value, condition); the last condition may be None ("otherwise")."""

    pieces: tuple[tuple[Expr, Expr | None], ...]

    def __post_init__(self) -> None:
        pieces = tuple((value, condition) for value, condition in self.pieces)
        if not pieces or any(c is None for _, c in pieces[:-1]):
            raise ValueError("Piecewise needs pieces, and only the last may have no condition")
        object.__setattr__(self, "pieces", pieces)


@dataclass(frozen=True, slots=True)
class Sum(Expr):
    """Σ over an index, for display in rules (Σₖ wₖⱼ δₖ); evaluating it raises: a derivation
    writes the terms out where it has numbers."""

    body: Expr
    index: str


# --------------------------------------------------------------------------- precedence

PREC_PIECEWISE = 2  # value for condition, …, value otherwise
PREC_COMPARE = 5    # z > 0
PREC_SUM = 10       # + − and unary minus (edX: -a*b is -(a*b), -2^2 is -4)
PREC_MUL = 20       # * / ⊙ and matrix products
PREC_PARALLEL = 30  # || binds tighter than * in edX: a*b||c is a*(b||c)
PREC_POW = 40       # ^ (right-associative)
PREC_POSTFIX = 50   # ᵀ
PREC_ATOM = 100

PRECEDENCE: dict[type, int] = {
    Add: PREC_SUM, Sub: PREC_SUM, Neg: PREC_SUM,
    Mul: PREC_MUL, Div: PREC_MUL, Hadamard: PREC_MUL, MatMul: PREC_MUL,
    Partial: PREC_MUL,  # ∂C/∂w reads as a quotient
    Sum: PREC_MUL,      # Σₖ binds like a product: Σₖ wₖ·δₖ
    Compare: PREC_COMPARE, Piecewise: PREC_PIECEWISE,
    Parallel: PREC_PARALLEL,
    Pow: PREC_POW,
    Transpose: PREC_POSTFIX,
    Num: PREC_ATOM, Sym: PREC_ATOM, Call: PREC_ATOM, Vector: PREC_ATOM, Matrix: PREC_ATOM,
}

# Operators that may share a level without brackets on the left (a/b·c is fine, a⊙b c is not).
_FAMILY: dict[type, str] = {Add: "sum", Sub: "sum", Neg: "sum", Mul: "product", Div: "product",
                            Hadamard: "hadamard", MatMul: "matmul", Partial: "partial",
                            Parallel: "parallel", Sum: "sigma"}

_RIGHT_ASSOCIATIVE = (Pow,)


def precedence(node: Expr) -> int:
    """How tightly ``node`` binds as printed; every printer brackets by this one rule."""
    if isinstance(node, Num):
        value = node.value
        if isinstance(value, complex) or np.iscomplexobj(value):
            c = complex(value)
            if c.real != 0 and c.imag != 0:
                return PREC_SUM
            value = c.real or c.imag
        if value < 0 or (node.text or "").startswith("-"):
            return PREC_SUM
        if node.text is None and "e" in format_number(value):
            return PREC_MUL  # 1e-12 is 1·10⁻¹²
        return PREC_ATOM
    if isinstance(node, Sym):
        return PREC_POW if node.sup is not None else PREC_ATOM
    for cls in type(node).__mro__:
        if cls in PRECEDENCE:
            return PRECEDENCE[cls]
    return PREC_ATOM


def _needs_parens(child: Expr, parent: Expr, side: str) -> bool:
    """Shared bracketing rule.  ``side`` is "left", "right" or "operand" (unary)."""
    pc, pp = precedence(child), precedence(parent)
    if isinstance(parent, Neg):
        return pc <= PREC_SUM
    if isinstance(parent, Transpose):
        return pc < PREC_POSTFIX
    if isinstance(parent, _RIGHT_ASSOCIATIVE):
        return pc <= pp if side == "left" else pc < pp
    if side == "left":
        if pc < pp:
            return True
        return pc == pp and _FAMILY.get(type(child)) != _FAMILY.get(type(parent))
    if isinstance(child, (Mul, Add, Hadamard)) and type(child) is type(parent):
        return False    # a·(b·c) is a·b·c, a + (b + c) is a + b + c: the operations associate
    if isinstance(parent, Sum):
        return pc < PREC_MUL        # Σₖ wₖ·δₖ: the sum takes the product after it
    if isinstance(child, Sum) and isinstance(parent, Mul):
        return False                # ½·Σⱼ (aⱼ − tⱼ)²
    return pc <= pp


# --------------------------------------------------------------------------- numbers


def _exact_number_text(value: Number) -> str:
    """A literal the formula parser reads back to exactly ``value`` (non-negative reals)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    value = float(value)
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    if math.isnan(value):
        raise TypeError("nan has no formula syntax")
    return repr(value)


_NUMBER_LITERAL = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


# --------------------------------------------------------------------------- names

GREEK = {
    name: chr(code) for name, code in {
        "alpha": 0x3B1, "beta": 0x3B2, "gamma": 0x3B3, "delta": 0x3B4, "epsilon": 0x3B5,
        "zeta": 0x3B6, "eta": 0x3B7, "theta": 0x3B8, "iota": 0x3B9, "kappa": 0x3BA,
        "lambda": 0x3BB, "mu": 0x3BC, "nu": 0x3BD, "xi": 0x3BE, "pi": 0x3C0, "rho": 0x3C1,
        "sigma": 0x3C3, "tau": 0x3C4, "upsilon": 0x3C5, "phi": 0x3C6, "chi": 0x3C7,
        "psi": 0x3C8, "omega": 0x3C9,
        "Gamma": 0x393, "Delta": 0x394, "Theta": 0x398, "Lambda": 0x39B, "Xi": 0x39E,
        "Pi": 0x3A0, "Sigma": 0x3A3, "Phi": 0x3A6, "Psi": 0x3A8, "Omega": 0x3A9,
    }.items()
}

_SUPERSCRIPT = dict(zip(
    "0123456789+-−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVW",
    "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂ",
))
_SUBSCRIPT = dict(zip("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))


def _script(text: str, table: dict[str, str]) -> str | None:
    if not text or any(ch not in table for ch in text):
        return None
    return "".join(table[ch] for ch in text)


_TENSOR = re.compile(r"([A-Za-z][A-Za-z0-9]*)(?:_\{([A-Za-z0-9]+)\})?(?:\^\{([A-Za-z0-9]+)\})?('*)")


def _name_parts(sym: Sym) -> tuple[str, str | None, str | None, int]:
    """(base, sub, sup, primes) for display; formula names like ``delta_j`` or edX tensor
    names like ``U_{ij}^{2}`` are split so they print as δⱼ and U²ᵢⱼ."""
    if sym.sub is not None or sym.sup is not None:
        return sym.name, sym.sub, sym.sup, 0
    name = sym.name
    stripped = name.rstrip("'")
    primes = len(name) - len(stripped)
    match = _TENSOR.fullmatch(name)
    if match and (match.group(2) or match.group(3)):
        return match.group(1), match.group(2), match.group(3), len(match.group(4))
    base, sep, rest = stripped.partition("_")
    if sep and base and rest:
        return base, rest, None, primes
    return stripped, None, None, primes


# --------------------------------------------------------------------------- functions


@dataclass(frozen=True)
class Function:
    """One function of the formula language: its value, its derivative and how it is written.

    ``fdiff(x)`` is the derivative as an expression tree in the argument ``x`` (SymPy's
    ``fdiff``): :func:`bpcalc.calculus.d` applies it with the chain rule, and the numeric
    derivative (``sigma'(z)`` in a formula) evaluates it, so each rule is written once.
    ``definition(x)`` says what the function is, for explanations (σ(x) = 1/(1 + e^(−x))).
    ``latex`` is a command (``\\sin``) or a template with ``{0}`` for the argument.
    Functions of several arguments (``max``) give ``partial(args, i)`` instead of ``fdiff``.
    """

    name: str
    func: Callable[..., Any]
    fdiff: Callable[[Expr], Expr] | None
    unicode: str
    latex: str
    definition: Callable[[Expr], Expr] | None = None
    arity: int = 1                     # 0: any number of arguments (at least two)
    partial: Callable[[tuple[Expr, ...], int], Expr] | None = None

    @property
    def derivative(self) -> Callable[[Any], Any] | None:
        """f′ as a numeric function (arrays too), evaluated from :attr:`fdiff`."""
        if self.fdiff is None:
            return None
        tree = self.fdiff(Sym(_ARGUMENT))
        return lambda x: evaluate(tree, {_ARGUMENT: x})


_ARGUMENT = "x__"   # the placeholder a rule is written in; no formula can name it


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray)


def _to_numpy(x: Any) -> Any:
    """A NumPy scalar for x, so that 1/0 is inf instead of ZeroDivisionError. A Python int
    becomes a float64 (never an int64 that wraps, or an object array): one beyond float64's
    range is "too large" (:func:`_too_large`), as it would be in edX's grader."""
    if _is_array(x) or isinstance(x, np.generic):
        return x
    if isinstance(x, complex):
        return np.complex128(x)
    if isinstance(x, int):
        return np.float64(_int_to_float(x))
    return np.float64(x)


def _int_to_float(n: int) -> float:
    try:
        return float(n)
    except OverflowError:
        raise _too_large() from None


def _too_large() -> FormulaError:
    return FormulaError("too large: a value in the formula is beyond ±1.8e308, the largest "
                        "float64 (bpcalc computes exactly only with integers of up to "
                        f"{_MAX_INT_BITS:,} bits)")


# The edX functions (calc/functions.py), written so they also accept arrays.
def _sec(x): return 1 / np.cos(x)
def _csc(x): return 1 / np.sin(x)
def _cot(x): return 1 / np.tan(x)
def _arcsec(x): return np.arccos(1. / x)
def _arccsc(x): return np.arcsin(1. / x)
def _sech(x): return 1 / np.cosh(x)
def _csch(x): return 1 / np.sinh(x)
def _coth(x): return 1 / np.tanh(x)
def _arcsech(x): return np.arccosh(1. / x)
def _arccsch(x): return np.arcsinh(1. / x)
def _arccoth(x): return np.arctanh(1. / x)


def _arccot(x):
    if _is_array(x):
        return np.where(np.real(x) < 0, -np.pi / 2 - np.arctan(x), np.pi / 2 - np.arctan(x))
    if np.real(x) < 0:
        return -np.pi / 2 - np.arctan(x)
    return np.pi / 2 - np.arctan(x)


def _abs(x):
    # edX uses numpy.abs, which turns an int into a wrapping int64; keep Python ints exact.
    if isinstance(x, int) and not isinstance(x, bool):
        return abs(x)
    return np.abs(x)


def _fact(x):
    if _is_array(x):
        return np.array([_int_to_float(_fact(v)) for v in x.ravel()], dtype=float).reshape(x.shape)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        n = int(x)
    elif isinstance(x, (float, np.floating)) and float(x).is_integer():
        n = int(x)  # an extension: edX's math.factorial refuses 3.0
    else:
        raise FormulaError(f"fact needs a whole number, not {format_number(x)}")
    if n < 0:
        raise FormulaError(f"fact needs a number that is not negative, not {n}")
    if n > 2 and math.lgamma(n + 1) / _LN2 > _MAX_INT_BITS:   # decided before computing it
        raise _too_large()
    return math.factorial(n)


def _real_only(name: str, x: Any) -> Any:
    if np.iscomplexobj(x):
        raise FormulaError(f"{name} needs a real number, not a complex one")
    return x


_sqrt = np.lib.scimath.sqrt
_LN10, _LN2 = math.log(10), math.log(2)


def _fn(name, func, fdiff=None, unicode=None, latex=None, definition=None) -> Function:
    return Function(name, func, fdiff, unicode or name,
                    latex or rf"\operatorname{{{name}}}", definition)


def _call(name: str) -> Callable[[Expr], Expr]:
    return lambda x: Call(name, (x,))


def _sign(x):
    return np.sign(_real_only("sign", x))


def _extreme(pairwise: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def extreme(*values: Any) -> Any:
        if any(np.iscomplexobj(v) for v in values):
            raise FormulaError("max and min need real numbers")
        result = _to_numpy(values[0])
        for value in values[1:]:
            result = pairwise(result, _to_numpy(value))
        return result
    return extreme


def _extreme_partial(relation: str) -> Callable[[tuple[Expr, ...], int], Expr]:
    """∂max(a, b)/∂a and ∂/∂b: the gradient goes to the larger input (a on a tie, as an
    argmax picks the first)."""
    def partial(args: tuple[Expr, ...], i: int) -> Expr:
        if len(args) != 2:
            raise FormulaError("derivatives of max and min are known for two arguments")
        condition = (Compare(args[0], {">": "≥", "<": "≤"}[relation], args[1]) if i == 0
                     else Compare(args[1], relation, args[0]))
        return Piecewise(((Num(1), condition), (Num(0), None)))
    return partial


def _erf(x):
    return _elementwise(math.erf, x, "erf")


def _erfc(x):
    return _elementwise(math.erfc, x, "erfc")


def _elementwise(scalar: Callable[[float], float], x: Any, name: str) -> Any:
    """A scalar libm function over an array, in C (no Python loop over entries)."""
    if np.iscomplexobj(x):
        raise FormulaError(f"{name} needs a real number, not a complex one")
    if _is_array(x):
        return np.asarray(np.frompyfunc(scalar, 1, 1)(x.astype(float)), dtype=float)  # 0-d too
    return scalar(float(x))


def _sqrt_pi() -> Expr:
    return Call("sqrt", (Sym("pi"),))


def _one_over_sqrt(inner: Expr) -> Expr:
    return Div(Num(1), Call("sqrt", (inner,)))


# Each rule is a tree in the argument x; bpcalc.calculus simplifies what the chain rule builds.
FUNCTIONS: dict[str, Function] = {f.name: f for f in [
    # Open edX's DEFAULT_FUNCTIONS, computed as calc.py computes them (scimath variants).
    _fn("sin", np.sin, _call("cos"), latex=r"\sin"),
    _fn("cos", np.cos, lambda x: Neg(Call("sin", (x,))), latex=r"\cos"),
    _fn("tan", np.tan, lambda x: Pow(Call("sec", (x,)), Num(2)), latex=r"\tan"),
    _fn("sec", _sec, lambda x: Mul(Call("sec", (x,)), Call("tan", (x,))), latex=r"\sec"),
    _fn("csc", _csc, lambda x: Neg(Mul(Call("csc", (x,)), Call("cot", (x,)))), latex=r"\csc"),
    _fn("cot", _cot, lambda x: Neg(Pow(Call("csc", (x,)), Num(2))), latex=r"\cot"),
    _fn("sqrt", _sqrt, lambda x: Div(Num(1), Mul(Num(2), Call("sqrt", (x,)))), "√", r"\sqrt{{{0}}}"),
    _fn("log10", np.lib.scimath.log10, lambda x: Div(Num(1), Mul(x, Call("ln", (Num(10),)))),
        "log₁₀", r"\log_{10}"),
    _fn("log2", np.lib.scimath.log2, lambda x: Div(Num(1), Mul(x, Call("ln", (Num(2),)))),
        "log₂", r"\log_{2}"),
    _fn("ln", np.lib.scimath.log, lambda x: Div(Num(1), x), latex=r"\ln"),
    _fn("exp", np.exp, _call("exp"), latex=r"\exp"),
    _fn("arccos", np.lib.scimath.arccos, lambda x: Neg(_one_over_sqrt(Sub(Num(1), Pow(x, Num(2))))),
        latex=r"\arccos"),
    _fn("arcsin", np.lib.scimath.arcsin, lambda x: _one_over_sqrt(Sub(Num(1), Pow(x, Num(2)))),
        latex=r"\arcsin"),
    _fn("arctan", np.arctan, lambda x: Div(Num(1), Add(Num(1), Pow(x, Num(2)))), latex=r"\arctan"),
    _fn("arcsec", _arcsec, lambda x: Div(Num(1), Mul(Call("abs", (x,)),
                                                      Call("sqrt", (Sub(Pow(x, Num(2)), Num(1)),))))),
    _fn("arccsc", _arccsc, lambda x: Neg(Div(Num(1), Mul(Call("abs", (x,)),
                                                          Call("sqrt", (Sub(Pow(x, Num(2)), Num(1)),)))))),
    _fn("arccot", _arccot, lambda x: Neg(Div(Num(1), Add(Num(1), Pow(x, Num(2)))))),
    _fn("abs", _abs, _call("sign"), latex=r"\left|{0}\right|"),
    _fn("fact", _fact),
    _fn("factorial", _fact),
    _fn("sinh", np.sinh, _call("cosh"), latex=r"\sinh"),
    _fn("cosh", np.cosh, _call("sinh"), latex=r"\cosh"),
    _fn("tanh", np.tanh, lambda x: Sub(Num(1), Pow(Call("tanh", (x,)), Num(2))), latex=r"\tanh",
        definition=lambda x: Div(Sub(Call("exp", (x,)), Call("exp", (Neg(x),))),
                                 Add(Call("exp", (x,)), Call("exp", (Neg(x),))))),
    _fn("sech", _sech, lambda x: Neg(Mul(Call("sech", (x,)), Call("tanh", (x,))))),
    _fn("csch", _csch, lambda x: Neg(Mul(Call("csch", (x,)), Call("coth", (x,))))),
    _fn("coth", _coth, lambda x: Neg(Pow(Call("csch", (x,)), Num(2))), latex=r"\coth"),
    _fn("arcsinh", np.arcsinh, lambda x: _one_over_sqrt(Add(Pow(x, Num(2)), Num(1)))),
    _fn("arccosh", np.arccosh, lambda x: _one_over_sqrt(Sub(Pow(x, Num(2)), Num(1)))),
    _fn("arctanh", np.lib.scimath.arctanh, lambda x: Div(Num(1), Sub(Num(1), Pow(x, Num(2))))),
    _fn("arcsech", _arcsech, lambda x: Neg(Div(Num(1), Mul(x, Call("sqrt", (Sub(Num(1), Pow(x, Num(2))),)))))),
    _fn("arccsch", _arccsch, lambda x: Neg(Div(Num(1), Mul(Call("abs", (x,)),
                                                            Call("sqrt", (Add(Num(1), Pow(x, Num(2))),)))))),
    _fn("arccoth", _arccoth, lambda x: Div(Num(1), Sub(Num(1), Pow(x, Num(2))))),
    # Beyond edX: what derivatives and activations need.
    _fn("sign", _sign, lambda x: Num(0), latex=r"\operatorname{sgn}"),
    _fn("erf", _erf, lambda x: Mul(Div(Num(2), _sqrt_pi()), Call("exp", (Neg(Pow(x, Num(2))),)))),
    _fn("erfc", _erfc, lambda x: Neg(Mul(Div(Num(2), _sqrt_pi()), Call("exp", (Neg(Pow(x, Num(2))),))))),
    Function("max", _extreme(np.maximum), None, "max", r"\max", arity=0, partial=_extreme_partial(">")),
    Function("min", _extreme(np.minimum), None, "min", r"\min", arity=0, partial=_extreme_partial("<")),
]}
"""The math functions; the course's activations (sigma, relu, …) join them from
:mod:`bpcalc.activations` in :func:`function_table`."""

_TABLE: dict[str, Function] | None = None


def function_table() -> Mapping[str, Function]:
    """Every function a formula or a derivation may call: :data:`FUNCTIONS` and the
    activations of :mod:`bpcalc.activations` (each activation registers itself there,
    with its value, derivative and symbols, so it is written in one place)."""
    global _TABLE
    if _TABLE is None:
        from .activations import ACTIVATION_FUNCTIONS

        _TABLE = {**ACTIVATION_FUNCTIONS, **FUNCTIONS}
    return _TABLE


CONSTANTS: dict[str, Number] = {"e": math.e, "pi": math.pi, "i": 1j, "j": 1j}
"""edX's DEFAULT_VARIABLES; a variable of the same name (any case) takes precedence."""


# --------------------------------------------------------------------------- printers


class Printer:
    """SymPy-style printer: ``print(node)`` calls ``_print_<Class>`` for the first class in
    the node's MRO that has a rule, and raises TypeError if none has."""

    _spine: dict[int, tuple[Expr, str]] | None = None

    def print(self, node: Expr) -> str:
        """The text of ``node``. A long flat sum or product (a+b+c+…: each node's left
        operand is the previous one) is printed from the bottom of its left spine up, each
        text kept for its parent, so hundreds of terms never recurse hundreds deep."""
        spine = self._spine
        if spine is not None and id(node) in spine:
            return spine[id(node)][1]
        top = spine is None
        if top:
            self._spine = spine = {}
        try:
            chain, current = [], getattr(node, "left", None)
            while isinstance(current, Expr) and id(current) not in spine:
                chain.append(current)
                current = getattr(current, "left", None)
            for pending in reversed(chain):        # the node is kept, so its id stays its own
                spine[id(pending)] = (pending, self._rule(pending))
            return self._rule(node)
        finally:
            if top:
                self._spine = None

    def _rule(self, node: Expr) -> str:
        for cls in type(node).__mro__:
            method = getattr(self, f"_print_{cls.__name__}", None)
            if method is not None:
                return method(node)
        raise TypeError(f"{type(self).__name__} cannot print {type(node).__name__}")

    def paren(self, text: str) -> str:
        return f"({text})"

    def needs_parens(self, child: Expr, parent: Expr, side: str) -> bool:
        return _needs_parens(child, parent, side)

    def operand(self, child: Expr, parent: Expr, side: str = "operand") -> str:
        text = self.print(child)
        return self.paren(text) if self.needs_parens(child, parent, side) else text

    def binary(self, node: Any, op: str) -> str:
        return (self.operand(node.left, node, "left") + op
                + self.operand(node.right, node, "right"))


def _at_most(node: Expr, count: int) -> bool:
    """Does ``node`` have at most ``count`` nodes? (Stops counting past ``count``.)"""
    stack, seen = [node], 0
    while stack:
        seen += 1
        if seen > count:
            return False
        stack.extend(_children(stack.pop()))
    return True


class UnicodePrinter(Printer):
    """σ, δ, ⊙, ·, −, ∥ and Unicode super/subscripts where characters exist (else ^ and _).
    Matrix products are juxtaposition with a plain space, (w³)ᵀ δ³, as the course writes
    them (a thin space would need care in terminals and LaTeX text)."""

    JUXTAPOSE = " "

    def __init__(self, compact: bool = False) -> None:
        self.compact = compact  # no spaces around + and −, for use inside superscripts

    def _spaced(self, op: str) -> str:
        return op if self.compact else f" {op} "

    def _print_Num(self, node: Num) -> str:
        text = node.text if node.text is not None else format_number(node.value)
        return "−" + text[1:] if text.startswith("-") else text

    def _print_Sym(self, node: Sym) -> str:
        base, sub, sup, primes = _name_parts(node)
        text = GREEK.get(base, base)
        if sup is not None:
            text += _script(sup, _SUPERSCRIPT) or f"^{sup if len(sup) == 1 else f'({sup})'}"
        if sub is not None:
            text += _script(sub, _SUBSCRIPT) or f"_{sub}"
        return text + "′" * primes

    def _print_Neg(self, node: Neg) -> str:
        return "−" + self.operand(node.operand, node)

    def _print_Add(self, node: Add) -> str:
        return self.binary(node, self._spaced("+"))

    def _print_Sub(self, node: Sub) -> str:
        return self.binary(node, self._spaced("−"))

    def _print_Mul(self, node: Mul) -> str:
        return self.binary(node, "·")

    def _print_Div(self, node: Div) -> str:
        return self.binary(node, "/")

    def _print_Parallel(self, node: Parallel) -> str:
        return self.binary(node, self._spaced("∥"))

    def _print_Hadamard(self, node: Hadamard) -> str:
        return self.binary(node, self._spaced("⊙"))

    def _print_MatMul(self, node: MatMul) -> str:
        return self.binary(node, self.JUXTAPOSE)

    def needs_parens(self, child: Expr, parent: Expr, side: str) -> bool:
        if (isinstance(parent, Pow) and side == "left") or isinstance(parent, Transpose):
            if isinstance(child, Partial):
                return True
        return super().needs_parens(child, parent, side)

    def _print_Pow(self, node: Pow) -> str:
        base = self.operand(node.base, node, "left")
        # A superscript holds at most 6 characters, and every node prints at least one, so
        # only an exponent of at most 6 nodes is tried compact: each exponent is printed
        # once more at most a few characters long, never twice in full (x^x^…^x stays linear).
        if _at_most(node.exponent, 6):
            exponent = UnicodePrinter(compact=True).print(node.exponent)
            script = _script(exponent, _SUPERSCRIPT) if len(exponent) <= 6 else None
            if script is not None:
                return base + script
        text = self.print(node.exponent)
        if precedence(node.exponent) < PREC_ATOM:  # a linear exponent is always bracketed
            text = f"({text})"
        return f"{base}^{text}"

    def _print_Transpose(self, node: Transpose) -> str:
        if isinstance(node.operand, Vector):        # a column vector's transpose is a row
            return "[" + ", ".join(self.print(item) for item in node.operand.items) + "]"
        return self.operand(node.operand, node) + "ᵀ"

    def _print_Call(self, node: Call) -> str:
        spec = function_table().get(node.name)
        name = spec.unicode if spec else node.name
        args = ", ".join(UnicodePrinter().print(arg) for arg in node.args)
        if node.derivative == 0 and len(node.args) == 1:
            if node.name == "abs":
                return f"|{args}|"
            if name == "√" and precedence(node.args[0]) == PREC_ATOM:
                return f"√{args}"
        return f"{name}{'′' * node.derivative}({args})"

    def _print_Vector(self, node: Vector) -> str:
        return "[" + ", ".join(self.print(item) for item in node.items) + "]ᵀ"

    def _print_Matrix(self, node: Matrix) -> str:
        return "[" + ", ".join("[" + ", ".join(self.print(c) for c in row) + "]"
                               for row in node.rows) + "]"

    def _print_Compare(self, node: Compare) -> str:
        return self.binary(node, f" {node.relation} ")

    def _print_Piecewise(self, node: Piecewise) -> str:
        parts = []
        for value, condition in node.pieces:
            text = self.operand(value, node)
            parts.append(f"{text} otherwise" if condition is None else f"{text} for {self.print(condition)}")
        return ", ".join(parts)

    def _print_Sum(self, node: Sum) -> str:
        index = _script(node.index, _SUBSCRIPT) or f"_{node.index}"
        return f"Σ{index} " + self.operand(node.body, node)

    def _print_Partial(self, node: Partial) -> str:
        of = self.print(node.of)
        wrt = self.print(node.wrt)
        if precedence(node.of) < PREC_ATOM:
            of = f"({of})"
        if precedence(node.wrt) < PREC_POW:
            wrt = f"({wrt})"
        return f"∂{of}/∂{wrt}"


class LatexPrinter(Printer):
    """LaTeX math: ``\\sigma'(z)``, ``z^{2}_{1}``, ``\\odot``, ``\\cdot``; Div and Partial are
    ``\\frac`` (self-delimiting, so they are bracketed only as a base or transposed)."""

    def paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def needs_parens(self, child: Expr, parent: Expr, side: str) -> bool:
        if isinstance(child, (Div, Partial)):
            return (isinstance(parent, Pow) and side == "left") or isinstance(parent, Transpose)
        if isinstance(parent, Pow) and side == "right":
            return False  # the exponent is in braces
        return super().needs_parens(child, parent, side)

    def _print_Num(self, node: Num) -> str:
        if node.latex is not None:
            return node.latex
        if node.text is not None and _NUMBER_LITERAL.fullmatch(node.text):
            return self._number(node.text)
        value = node.value
        if isinstance(value, (complex, np.complexfloating)) and complex(value).imag != 0:
            c = complex(value)
            im = self._number(format_number(abs(c.imag)))
            im = "" if im == "1" else im
            if c.real == 0:
                return f"{'-' if c.imag < 0 else ''}{im}i"
            return f"{self._number(format_number(c.real))} {'-' if c.imag < 0 else '+'} {im}i"
        if node.text is not None:
            return node.text
        return self._number(format_number(value))

    @staticmethod
    def _number(text: str) -> str:
        if "e" in text and text not in ("inf", "-inf"):
            mantissa, exponent = text.split("e")
            return rf"{mantissa} \times 10^{{{int(exponent)}}}"
        if text in ("inf", "-inf"):
            return text.replace("inf", r"\infty")
        return text

    def _print_Sym(self, node: Sym) -> str:
        base, sub, sup, primes = _name_parts(node)
        if base in GREEK:
            text = "\\" + base
        elif len(base) == 1:
            text = base
        else:
            text = r"\mathrm{" + base.replace("_", r"\_") + "}"
        if sup is not None:
            text += f"^{{{sup}}}"
        if sub is not None:
            text += "_{" + sub.replace("_", r"\_") + "}"
        return text + "'" * primes

    def _print_Neg(self, node: Neg) -> str:
        return "-" + self.operand(node.operand, node)

    def _print_Add(self, node: Add) -> str:
        return self.binary(node, " + ")

    def _print_Sub(self, node: Sub) -> str:
        return self.binary(node, " - ")

    def _print_Mul(self, node: Mul) -> str:
        return self.binary(node, r" \cdot ")

    def _print_Div(self, node: Div) -> str:
        return rf"\frac{{{self.print(node.left)}}}{{{self.print(node.right)}}}"

    def _print_Parallel(self, node: Parallel) -> str:
        return self.binary(node, r" \parallel ")

    def _print_Hadamard(self, node: Hadamard) -> str:
        return self.binary(node, r" \odot ")

    def _print_MatMul(self, node: MatMul) -> str:
        return self.binary(node, r" \, ")

    def _print_Pow(self, node: Pow) -> str:
        base = self.operand(node.base, node, "left")
        if isinstance(node.base, Call):
            base = "{" + base + "}"
        return f"{base}^{{{self.print(node.exponent)}}}"

    def _print_Transpose(self, node: Transpose) -> str:
        if isinstance(node.operand, Vector):        # a column vector's transpose is a row
            return r"\begin{bmatrix}" + " & ".join(self.print(i) for i in node.operand.items) + r"\end{bmatrix}"
        return self.operand(node.operand, node) + r"^{\mathsf{T}}"

    def _print_Call(self, node: Call) -> str:
        spec = function_table().get(node.name)
        args = ", ".join(self.print(arg) for arg in node.args)
        if spec is None:
            escaped = node.name.replace("_", r"\_")
            name = escaped if len(escaped) == 1 else rf"\operatorname{{{escaped}}}"
        elif "{0}" in spec.latex and node.derivative == 0:
            return spec.latex.format(args)
        elif "{0}" in spec.latex:
            name = rf"\operatorname{{{spec.name}}}"
        else:
            name = spec.latex
        return f"{name}{chr(39) * node.derivative}({args})"

    def _print_Vector(self, node: Vector) -> str:
        return r"\begin{bmatrix}" + r" \\ ".join(self.print(i) for i in node.items) + r"\end{bmatrix}"

    def _print_Matrix(self, node: Matrix) -> str:
        rows = (" & ".join(self.print(c) for c in row) for row in node.rows)
        return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"

    def _print_Compare(self, node: Compare) -> str:
        return self.binary(node, f" {LATEX_RELATIONS[node.relation]} ")

    def _print_Piecewise(self, node: Piecewise) -> str:
        # One line, without \\ or \{: it must survive inline $…$ in Markdown as well.
        parts = []
        for value, condition in node.pieces:
            text = self.operand(value, node)
            parts.append(rf"{text} \text{{ otherwise}}" if condition is None
                         else rf"{text} \text{{ for }} {self.print(condition)}")
        return r",\ ".join(parts)

    def _print_Sum(self, node: Sum) -> str:
        return rf"\sum_{{{node.index}}} " + self.operand(node.body, node)

    def _print_Partial(self, node: Partial) -> str:
        of = self.operand(node.of, node) if precedence(node.of) < PREC_ATOM else self.print(node.of)
        wrt = self.print(node.wrt)
        if precedence(node.wrt) < PREC_POW:
            wrt = self.paren(wrt)
        return rf"\frac{{\partial {of}}}{{\partial {wrt}}}"


_CHAINS = {Add: "sum", Sub: "sum", Mul: "product", Div: "product"}


class TextPrinter(Printer):
    """The course grader's ASCII syntax, fully parenthesized: every operand that is not a
    number, name or call is in brackets (``(a_k^(l-1))*delta_j``), so the output parses
    back to the same tree whatever the reader's precedence rules; only a sum or product
    continued to the right is not (``a-b+c``, ``a/b*c``), as every reader goes left to right.  Vector nodes, which the
    grader has no syntax for, print as readable ASCII (``.*``, ``@``, ``transpose(...)``,
    ``[a, b]``, ``d(C)/d(w)``) that does not parse."""

    def operand(self, child: Expr, parent: Expr, side: str = "operand") -> str:
        text = self.print(child)
        if side == "left" and _CHAINS.get(type(child), 0) == _CHAINS.get(type(parent), 1):
            return text  # a-b+c, a/b*c: left to right in every reader; keeps long sums short
        atomic = precedence(child) == PREC_ATOM and not (isinstance(child, Num) and text.startswith("-"))
        return text if atomic else f"({text})"

    def _print_Num(self, node: Num) -> str:
        if node.text is not None and _NUMBER_LITERAL.fullmatch(node.text):
            return node.text
        value = node.value
        if isinstance(value, (complex, np.complexfloating)):
            c = complex(value)
            if c.imag == 0:
                return self._print_Num(Num(c.real))
            im = f"{_exact_number_text(abs(c.imag))}*i"
            if c.real == 0:
                return f"-{im}" if c.imag < 0 else im
            sign = "-" if c.imag < 0 else "+"
            return f"{self._print_Num(Num(c.real))}{sign}{im}"
        if value < 0 or (isinstance(value, float) and math.copysign(1, value) < 0 and value == 0):
            return "-" + _exact_number_text(-value)
        return _exact_number_text(value)

    def _print_Sym(self, node: Sym) -> str:
        text = node.name
        if node.sub is not None:
            text += f"_{node.sub}"
        if node.sup is not None:
            sup = node.sup
            text += f"^{sup}" if re.fullmatch(r"[A-Za-z0-9_]+", sup) else f"^({sup})"
        return text

    def _print_Neg(self, node: Neg) -> str:
        return "-" + self.operand(node.operand, node)

    def _print_Add(self, node: Add) -> str:
        return self.binary(node, "+")

    def _print_Sub(self, node: Sub) -> str:
        return self.binary(node, "-")

    def _print_Mul(self, node: Mul) -> str:
        return self.binary(node, "*")

    def _print_Div(self, node: Div) -> str:
        return self.binary(node, "/")

    def _print_Parallel(self, node: Parallel) -> str:
        return self.binary(node, "||")

    def _print_Pow(self, node: Pow) -> str:
        return self.operand(node.base, node) + "^" + self.operand(node.exponent, node)

    def _print_Call(self, node: Call) -> str:
        args = ", ".join(self.print(arg) for arg in node.args)
        return f"{node.name}{chr(39) * node.derivative}({args})"

    def _print_Hadamard(self, node: Hadamard) -> str:
        return self.binary(node, " .* ")

    def _print_MatMul(self, node: MatMul) -> str:
        return self.binary(node, " @ ")

    def _print_Transpose(self, node: Transpose) -> str:
        return f"transpose({self.print(node.operand)})"

    def _print_Vector(self, node: Vector) -> str:
        return "[" + ", ".join(self.print(i) for i in node.items) + "]"

    def _print_Matrix(self, node: Matrix) -> str:
        return "[" + ", ".join(self._print_Vector(Vector(row)) for row in node.rows) + "]"

    def _print_Compare(self, node: Compare) -> str:
        return self.binary(node, TEXT_RELATIONS[node.relation])

    def _print_Piecewise(self, node: Piecewise) -> str:
        text = ""
        for value, condition in reversed(node.pieces):
            text = (self.print(value) if condition is None
                    else f"({self.print(value)} if {self.print(condition)} else {text or 'nan'})")
        return text

    def _print_Sum(self, node: Sum) -> str:
        return f"sum_{node.index}({self.print(node.body)})"

    def _print_Partial(self, node: Partial) -> str:
        return f"d({self.print(node.of)})/d({self.print(node.wrt)})"


def to_unicode(node: Expr) -> str:
    return UnicodePrinter().print(node)


def to_latex(node: Expr) -> str:
    return LatexPrinter().print(node)


def to_text(node: Expr) -> str:
    return TextPrinter().print(node)


# --------------------------------------------------------------------------- JSON

_BINARY = {cls.__name__: cls for cls in (Add, Sub, Mul, Div, Parallel, Hadamard, MatMul)}


def _json_number(value: Number) -> Any:
    if isinstance(value, (complex, np.complexfloating)):
        c = complex(value)
        return {"re": c.real, "im": c.imag}
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def to_json(node: Expr) -> dict[str, Any]:
    """A JSON-able dict tree: ``{"type": "Add", "left": {...}, "right": {...}}``; complex
    numbers are ``{"re": .., "im": ..}``."""
    kind = type(node).__name__
    if isinstance(node, Num):
        out: dict[str, Any] = {"type": kind, "value": _json_number(node.value)}
        if node.text is not None:
            out["text"] = node.text
        if node.latex is not None:
            out["latex"] = node.latex
        return out
    if isinstance(node, Sym):
        out = {"type": kind, "name": node.name}
        if node.sub is not None:
            out["sub"] = node.sub
        if node.sup is not None:
            out["sup"] = node.sup
        return out
    if isinstance(node, (Neg, Transpose)):
        return {"type": kind, "operand": to_json(node.operand)}
    if kind in _BINARY:
        return {"type": kind, "left": to_json(node.left), "right": to_json(node.right)}
    if isinstance(node, Pow):
        return {"type": kind, "base": to_json(node.base), "exponent": to_json(node.exponent)}
    if isinstance(node, Call):
        return {"type": kind, "name": node.name, "args": [to_json(a) for a in node.args],
                "derivative": node.derivative}
    if isinstance(node, Vector):
        return {"type": kind, "items": [to_json(i) for i in node.items]}
    if isinstance(node, Matrix):
        return {"type": kind, "rows": [[to_json(c) for c in row] for row in node.rows]}
    if isinstance(node, Partial):
        return {"type": kind, "of": to_json(node.of), "wrt": to_json(node.wrt)}
    if isinstance(node, Compare):
        return {"type": kind, "left": to_json(node.left), "relation": node.relation,
                "right": to_json(node.right)}
    if isinstance(node, Piecewise):
        return {"type": kind, "pieces": [
            {"value": to_json(value), "condition": None if condition is None else to_json(condition)}
            for value, condition in node.pieces]}
    if isinstance(node, Sum):
        return {"type": kind, "body": to_json(node.body), "index": node.index}
    raise TypeError(f"to_json cannot convert {kind}")


def from_json(data: Mapping[str, Any]) -> Expr:
    """The inverse of :func:`to_json`."""
    kind = data["type"]
    if kind == "Num":
        value = data["value"]
        if isinstance(value, Mapping):
            value = complex(value["re"], value["im"])
        return Num(value, data.get("text"), data.get("latex"))
    if kind == "Sym":
        return Sym(data["name"], data.get("sub"), data.get("sup"))
    if kind == "Neg":
        return Neg(from_json(data["operand"]))
    if kind == "Transpose":
        return Transpose(from_json(data["operand"]))
    if kind in _BINARY:
        return _BINARY[kind](from_json(data["left"]), from_json(data["right"]))
    if kind == "Pow":
        return Pow(from_json(data["base"]), from_json(data["exponent"]))
    if kind == "Call":
        return Call(data["name"], tuple(from_json(a) for a in data["args"]),
                    data.get("derivative", 0))
    if kind == "Vector":
        return Vector(tuple(from_json(i) for i in data["items"]))
    if kind == "Matrix":
        return Matrix(tuple(tuple(from_json(c) for c in row) for row in data["rows"]))
    if kind == "Partial":
        return Partial(from_json(data["of"]), from_json(data["wrt"]))
    if kind == "Compare":
        return Compare(from_json(data["left"]), data["relation"], from_json(data["right"]))
    if kind == "Piecewise":
        return Piecewise(tuple((from_json(p["value"]), None if p["condition"] is None
                                else from_json(p["condition"])) for p in data["pieces"]))
    if kind == "Sum":
        return Sum(from_json(data["body"]), data["index"])
    raise ValueError(f"unknown node type {kind!r}")


# --------------------------------------------------------------------------- walking


def _children(node: Expr) -> tuple[Expr, ...]:
    if isinstance(node, (Num, Sym)):
        return ()
    if isinstance(node, (Neg, Transpose)):
        return (node.operand,)
    if isinstance(node, Pow):
        return (node.base, node.exponent)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Vector):
        return node.items
    if isinstance(node, Matrix):
        return tuple(c for row in node.rows for c in row)
    if isinstance(node, Partial):
        return (node.of, node.wrt)
    if isinstance(node, Piecewise):
        return tuple(part for value, condition in node.pieces
                     for part in ((value,) if condition is None else (value, condition)))
    if isinstance(node, Sum):
        return (node.body,)
    return (node.left, node.right)  # type: ignore[attr-defined]


def symbols(node: Expr) -> set[str]:
    """The keys of every symbol in ``node`` (constants such as ``pi`` included)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Sym):
            found.add(current.key)
        else:
            stack.extend(_children(current))
    return found


def _rebuild(node: Expr, children: list[Expr]) -> Expr:
    """``node`` with its children (in :func:`_children` order) replaced."""
    if isinstance(node, (Neg, Transpose)):
        return type(node)(children[0])
    if isinstance(node, Pow):
        return Pow(children[0], children[1])
    if isinstance(node, Call):
        return Call(node.name, tuple(children), node.derivative)
    if isinstance(node, Vector):
        return Vector(tuple(children))
    if isinstance(node, Matrix):
        width = len(node.rows[0]) if node.rows else 0
        return Matrix(tuple(tuple(children[r * width:(r + 1) * width])
                            for r in range(len(node.rows))))
    if isinstance(node, Partial):
        return Partial(children[0], children[1])
    if isinstance(node, Compare):
        return Compare(children[0], node.relation, children[1])
    if isinstance(node, Piecewise):
        parts, pieces = iter(children), []
        for _value, condition in node.pieces:
            pieces.append((next(parts), None if condition is None else next(parts)))
        return Piecewise(tuple(pieces))
    if isinstance(node, Sum):
        return Sum(children[0], node.index)
    return type(node)(children[0], children[1])  # type: ignore[call-arg]


def nodes(tree: Expr) -> Iterator[Expr]:
    """Every node of ``tree`` (the tree itself included), without recursion."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(_children(node))


def bottom_up(tree: Expr, rule: Callable[[Expr], Expr]) -> Expr:
    """``rule`` applied to every node after its children, rebuilding only what changed:
    the one walk that simplification, resolving piecewise forms and pruning share."""
    children = _children(tree)
    if children:
        new = [bottom_up(child, rule) for child in children]
        if any(n is not o for n, o in zip(new, children)):
            tree = _rebuild(tree, new)
    return rule(tree)


def substitute(node: Expr, replacements: Mapping[str, Any]) -> Expr:
    """``node`` with every symbol whose key is in ``replacements`` replaced (by a tree or a
    number), e.g. to test whether a student swapped two variables. Walks with a stack, so
    a flat sum of hundreds of terms is fine."""
    done: dict[int, Expr] = {}
    stack: list[tuple[Expr, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        if id(current) in done:
            continue
        if isinstance(current, Sym):
            done[id(current)] = (_wrap(replacements[current.key]) if current.key in replacements
                                 else current)
            continue
        children = _children(current)
        if not children:
            done[id(current)] = current
        elif not children_done:
            stack.append((current, True))
            stack.extend((child, False) for child in children)
        else:
            new = [done[id(child)] for child in children]
            done[id(current)] = (current if all(n is o for n, o in zip(new, children))
                                 else _rebuild(current, new))
    return done[id(node)]


# --------------------------------------------------------------------------- evaluation

# Integers stay exact (as edX keeps them) while they have at most _MAX_INT_BITS bits: a
# step costs microseconds, and 10^400*0 is 0 as in edX. A step beyond is "too large" (a
# FormulaError), decided before it is computed; so is a final value beyond float64. The
# value returned is an int only up to 2^53 (where every int is also an exact float64);
# beyond, it is the nearest float64, so what reaches NumPy is never an unbounded int.
_MAX_INT_BITS = 4096
_EXACT_RESULT = 2 ** 53


def _lookup_ci(mapping: Mapping[str, Any], name: str, what: str) -> Any:
    """Exact, then case-insensitive when unambiguous; KeyError if absent."""
    if name in mapping:
        return mapping[name]
    folded = name.casefold()
    matches = [k for k in mapping if k.casefold() == folded]
    if len(matches) == 1:
        return mapping[matches[0]]
    if len(matches) > 1:
        raise FormulaError(f"{what} '{name}' is ambiguous: it could be any of "
                           f"{', '.join(sorted(matches))} (names differ only in case)")
    raise KeyError(name)


def _safe(op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """Python arithmetic (as edX does it), NumPy's inf/nan where Python would raise;
    an exact integer result is bounded (see _MAX_INT_BITS)."""
    try:
        result = op(a, b)
    except (ZeroDivisionError, OverflowError):
        return op(_to_numpy(a), _to_numpy(b))
    if type(result) is int and result.bit_length() > _MAX_INT_BITS:
        raise _too_large()
    return result


def _bounded(value: Any) -> Any:
    """A Python int within _MAX_INT_BITS bits (an integer literal may be longer)."""
    if type(value) is int and value.bit_length() > _MAX_INT_BITS:
        raise _too_large()
    return value


def _result(value: Any) -> Any:
    """The value evaluate returns: an int only while small (see _MAX_INT_BITS)."""
    if type(value) is int and not -_EXACT_RESULT <= value <= _EXACT_RESULT:
        return _int_to_float(value)
    return value


def _as_float(value: Any) -> Any:
    """What is handed to a NumPy operation: a Python int as a float64 (bounded)."""
    return _int_to_float(value) if type(value) is int else value


def _ADD(x: Any, y: Any) -> Any:
    return x + y


def _MUL(x: Any, y: Any) -> Any:
    return x * y


def _sub(a: Any, b: Any) -> Any:
    return _safe(lambda x, y: x - y, a, b)


def _divide(a: Any, b: Any) -> Any:
    return _safe(lambda x, y: x / y, a, b)


def _is_python_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _power(base: Any, exponent: Any) -> Any:
    if _is_array(base) or _is_array(exponent):
        b = np.asarray(_as_float(base))
        x = np.asarray(_as_float(exponent))
        if b.dtype.kind in "iub":
            b = b.astype(float)
        if not np.iscomplexobj(b) and not np.iscomplexobj(x):
            negative_fraction = (b < 0) & (x != np.floor(x))
            if np.any(negative_fraction):
                b = b.astype(complex)
        return np.power(b, x)
    if _is_python_int(base) and _is_python_int(exponent):
        if exponent < 0 and base == 0:
            return math.inf
        if exponent > 0 and abs(base) > 1 and (
                exponent.bit_length() > 32 or exponent * math.log2(abs(base)) > _MAX_INT_BITS):
            raise _too_large()          # decided before computing: 9^9^9 costs nothing
        try:
            return base ** exponent     # exact; a float for a negative exponent, as in Python
        except (OverflowError, ZeroDivisionError):
            return np.power(_to_numpy(base), _to_numpy(exponent))
    try:
        result = base ** exponent
    except (ZeroDivisionError, OverflowError, ValueError):
        result = np.power(_to_numpy(base), _to_numpy(exponent))
    if (isinstance(result, np.floating) and np.isnan(result)
            and not np.iscomplexobj(base) and not np.iscomplexobj(exponent)
            and not np.isnan(base) and not np.isnan(exponent)
            and base < 0 and exponent != math.floor(exponent)):
        result = complex(base) ** complex(exponent)  # the principal value, as Python gives
    return result


def _parallel(operands: list[Any]) -> Any:
    # edX: nan if any operand is 0, else 1/(1/a + 1/b + ...), with the sum started at 0.
    if any(_is_array(v) for v in operands):
        zero = np.zeros(np.broadcast(*[np.asarray(v) for v in operands]).shape, dtype=bool)
        for v in operands:
            zero |= np.asarray(v) == 0
        total: Any = 0
        for v in operands:
            total = total + np.true_divide(1., np.where(np.asarray(v) == 0, 1, v))
        return np.where(zero, np.nan, np.true_divide(1., total))
    if any(v == 0 for v in operands):
        return math.nan
    total = 0
    for v in operands:
        total = total + _divide(1., v)
    return _divide(1., total)


def _call(spec: Function | Callable[..., Any], args: list[Any], derivative: int,
          name: str) -> Any:
    if isinstance(spec, Function):
        func = spec.func
        if derivative:
            if derivative > 1 or spec.derivative is None:
                what = "second derivative" if derivative > 1 else "derivative"
                raise FormulaError(f"no {what} of {name} is known")
            func = spec.derivative
    else:
        if derivative:
            raise FormulaError(f"no derivative of {name} is known")
        func = spec
    if func is not _abs and func is not _fact and isinstance(spec, Function):
        args = [_as_float(a) for a in args]     # NumPy functions get floats, never a huge int
    try:
        try:
            return func(*args)
        except (ZeroDivisionError, OverflowError, TypeError, AttributeError):
            return func(*[_to_numpy(a) for a in args])
    except FormulaError:
        raise
    except (ArithmeticError, ValueError, TypeError, AttributeError) as exc:
        raise FormulaError(f"{name} cannot be computed here: {exc}") from None


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">": np.greater, "<": np.less, "≥": np.greater_equal, "≤": np.less_equal,
    "=": np.equal, "≠": np.not_equal}


def _real(value: Any) -> Any:
    if np.iscomplexobj(value):
        raise FormulaError("a comparison needs real numbers, not complex ones")
    return value


def _piecewise(pieces: list[tuple[Any, Any]]) -> Any:
    """The value of the first piece whose condition holds (entry by entry for arrays);
    NaN where none holds and there is no "otherwise"."""
    if not any(_is_array(v) or _is_array(c) for v, c in pieces):
        for value, condition in pieces:
            if condition is None or bool(condition):
                return value
        return math.nan
    conditions = [np.ones((), dtype=bool) if c is None else np.asarray(c, dtype=bool) for _, c in pieces]
    values = [np.asarray(v) for v, _ in pieces]
    shape = np.broadcast_shapes(*(a.shape for a in conditions + values))
    return np.select([np.broadcast_to(c, shape) for c in conditions],
                     [np.broadcast_to(v, shape) for v in values], default=np.nan)


def _environment_value(value: Any) -> Any:
    """A variable's value as the evaluator uses it: lists and integer arrays become float
    arrays (an int64 array would wrap around silently), Python numbers stay as given."""
    if isinstance(value, (list, tuple)):
        value = np.asarray(value)
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "iub":
        return value.astype(float)
    return _bounded(value)


def evaluate(node: Expr, env: Mapping[str, Any] | None = None,
             functions: Mapping[str, Function | Callable[..., Any]] | None = None) -> Any:
    """The value of ``node`` with ``env`` giving symbol values (numbers or arrays).

    ``functions`` adds or overrides registry entries (a :class:`Function` or a plain
    callable), as edX's ``unary_functions``.  A symbol with no value, not a constant,
    raises FormulaError naming it.
    """
    env = {} if env is None else {k: _environment_value(v) for k, v in env.items()}
    table: dict[str, Function | Callable[..., Any]] = dict(function_table())
    if functions:
        table.update(functions)

    def variable(sym: Sym) -> Any:
        key = sym.key
        try:
            return _lookup_ci(env, key, "variable")
        except KeyError:
            pass
        try:
            return _lookup_ci(CONSTANTS, key, "constant")
        except KeyError:
            raise FormulaError(f"no value for the variable '{key}'") from None

    # edX evaluates group by group: a sum starts from 0 (total = 0 + t0 - t1 ...), a product
    # from 1, and the whole formula, each bracket and each function argument is such a sum.
    # Mirroring that keeps even signed zeros (hence complex branch cuts) as edX has them.
    # A node that binds looser than its position allows must have been in brackets.

    def group(n: Expr) -> Any:
        terms: list[tuple[str, Expr]] = []
        while isinstance(n, (Add, Sub)):
            terms.append(("+" if isinstance(n, Add) else "-", n.right))
            n = n.left
        if isinstance(n, Neg):  # the sum's leading sign
            total = _sub(0, product(n.operand))
        else:
            total = _safe(_ADD, 0, product(n))
        for op, term in reversed(terms):
            value = product(term)
            total = _safe(_ADD, total, value) if op == "+" else _sub(total, value)
        return total

    def product(n: Expr) -> Any:
        factors: list[tuple[str, Expr]] = []
        while isinstance(n, (Mul, Div)):
            factors.append(("*" if isinstance(n, Mul) else "/", n.right))
            n = n.left
        total = _safe(_MUL, 1, parallel(n))
        for op, factor in reversed(factors):
            value = parallel(factor)
            total = _safe(_MUL, total, value) if op == "*" else _divide(total, value)
        return total

    def parallel(n: Expr) -> Any:
        if not isinstance(n, Parallel):
            return power(n)
        operands = []
        while isinstance(n, Parallel):  # edX's a||b||c is one n-ary operation
            operands.append(n.right)
            n = n.left
        operands.append(n)
        return _parallel([power(o) for o in reversed(operands)])

    def power(n: Expr) -> Any:
        if not isinstance(n, Pow):
            return atom(n)
        atoms = []
        while isinstance(n, Pow):  # right-associative: a^b^c is a^(b^c)
            atoms.append(n.base)
            n = n.exponent
        atoms.append(n)
        values = [atom(a) for a in atoms]
        result = values[-1]
        for base in reversed(values[:-1]):
            result = _power(base, result)
        return result

    def atom(n: Expr) -> Any:
        if isinstance(n, Num):
            return _bounded(n.value)
        if isinstance(n, Sym):
            return variable(n)
        if isinstance(n, Neg) and isinstance(n.operand, Num):
            return -_bounded(n.operand.value)  # a signed literal such as the -2 in 2^-2
        if isinstance(n, Call):
            try:
                spec = _lookup_ci(table, n.name, "function")
            except KeyError:
                raise FormulaError(f"unknown function '{n.name}'") from None
            return _call(spec, [group(a) for a in n.args], n.derivative, n.name)
        if isinstance(n, (Neg, Add, Sub, Mul, Div, Parallel, Pow)):
            return group(n)
        if isinstance(n, Hadamard):
            return np.multiply(_as_float(group(n.left)), _as_float(group(n.right)))
        if isinstance(n, MatMul):
            left = np.asarray(_as_float(group(n.left)))
            right = np.asarray(_as_float(group(n.right)))
            if left.ndim == 1 and right.ndim == 2 and right.shape[0] == 1:
                return np.outer(left, right[0])       # a column times a row: δ (a)ᵀ
            return np.matmul(left, right)
        if isinstance(n, Transpose):
            value = np.asarray(_as_float(group(n.operand)))
            return value[None, :] if value.ndim == 1 else value.T   # a (column) vector's transpose is a row
        if isinstance(n, Vector):
            return np.array([_as_float(group(i)) for i in n.items])
        if isinstance(n, Matrix):
            return np.array([[_as_float(group(c)) for c in row] for row in n.rows])
        if isinstance(n, Partial):
            raise FormulaError(f"{to_unicode(n)} is a derivative symbol, not a value: "
                               "it cannot be evaluated")
        if isinstance(n, Compare):
            return _COMPARE[n.relation](_real(group(n.left)), _real(group(n.right)))
        if isinstance(n, Piecewise):
            return _piecewise([(group(value), None if condition is None else group(condition))
                               for value, condition in n.pieces])
        if isinstance(n, Sum):
            raise FormulaError(f"{to_unicode(n)} is a sum over an index: write its terms out "
                               "to evaluate it")
        raise TypeError(f"evaluate cannot handle {type(n).__name__}")

    with np.errstate(all="ignore"):
        return _result(group(node))
