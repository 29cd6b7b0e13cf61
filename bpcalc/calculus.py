"""Symbolic derivatives of expression trees, simplified the way a textbook writes them.

:func:`d` applies the chain rule; the rule of each function comes from its registry entry
(``Function.fdiff``: σ′(x) = σ(x)(1 − σ(x)), tanh′(x) = 1 − tanh(x)², ReLU′ as a
piecewise 1 or 0), so this module knows no function by name and no rule is written twice.
:func:`simplify` then removes what the rules leave behind (factors 0 and 1, constants
next to each other, double negations), so ∂/∂a of ½(a − t)² reads a − t, and ∂/∂a of
−(t·ln a + (1 − t)·ln(1 − a)) reads (1 − t)/(1 − a) − t/a.

Derivatives are of scalar expressions; the vector notation of derivations (⊙, matrix
products) is built from scalar rules elsewhere and is not differentiated here.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from .errors import FormulaError
from .expr import (
    Add, Call, Compare, Div, Expr, Function, Mul, Neg, Num, Parallel, Piecewise,
    Pow, Sub, Sum, Sym, bottom_up, function_table, nodes, substitute, symbols,
)

__all__ = ["d", "simplify", "depends_on", "replace"]

ZERO, ONE = Num(0), Num(1)
EULER = Sym("e")     # the constant e (formulas read e as Euler's number: CONSTANTS)


def d(tree: Expr, variable: str, functions: Mapping[str, Function] | None = None) -> Expr:
    """∂tree/∂variable (a symbol key such as ``"z"`` or ``"a^2_1"``), simplified."""
    table = function_table() if functions is None else {**function_table(), **functions}
    return simplify(_Differentiator(variable, table).d(tree))


def depends_on(tree: Expr, variable: str) -> bool:
    return variable in symbols(tree)


class _Differentiator:
    def __init__(self, variable: str, table: Mapping[str, Function]) -> None:
        self.variable, self.table = variable, table

    def d(self, node: Expr) -> Expr:
        if not depends_on(node, self.variable):
            return ZERO
        rule = getattr(self, f"_d_{type(node).__name__}", None)
        if rule is None:
            raise FormulaError(f"cannot differentiate a {type(node).__name__} expression")
        return rule(node)

    def _d_Sym(self, node: Sym) -> Expr:
        return ONE                      # it depends on the variable, so it is the variable

    def _d_Neg(self, node: Neg) -> Expr:
        return Neg(self.d(node.operand))

    def _d_Add(self, node: Add) -> Expr:
        return Add(self.d(node.left), self.d(node.right))

    def _d_Sub(self, node: Sub) -> Expr:
        return Sub(self.d(node.left), self.d(node.right))

    def _d_Mul(self, node: Mul) -> Expr:
        u, v = node.left, node.right
        return Add(Mul(self.d(u), v), Mul(u, self.d(v)))

    _d_Hadamard = _d_Mul

    def _d_Div(self, node: Div) -> Expr:
        u, v = node.left, node.right
        if not depends_on(v, self.variable):
            return Div(self.d(u), v)
        if not depends_on(u, self.variable):
            return Neg(Div(Mul(u, self.d(v)), Pow(v, Num(2))))
        return Div(Sub(Mul(self.d(u), v), Mul(u, self.d(v))), Pow(v, Num(2)))

    def _d_Pow(self, node: Pow) -> Expr:
        u, n = node.base, node.exponent
        if not depends_on(n, self.variable):
            return Mul(Mul(n, Pow(u, Sub(n, ONE))), self.d(u))
        if u == EULER:                                  # d(eˣ) = eˣ, not ln(e)·eˣ
            return Mul(node, self.d(n))
        if not depends_on(u, self.variable):
            return Mul(Mul(Call("ln", (u,)), node), self.d(n))
        return Mul(node, Add(Mul(self.d(n), Call("ln", (u,))), Div(Mul(n, self.d(u)), u)))

    def _d_Parallel(self, node: Parallel) -> Expr:
        return self.d(Div(ONE, Add(Div(ONE, node.left), Div(ONE, node.right))))

    def _d_Call(self, node: Call) -> Expr:
        spec = self.table.get(node.name)
        if spec is None:
            raise FormulaError(f"no derivative of {node.name} is known")
        if node.derivative:
            return self.d(derivative_of(spec, node.args, node.derivative))
        if len(node.args) == 1 and spec.fdiff is not None:
            (argument,) = node.args
            return Mul(spec.fdiff(argument), self.d(argument))
        if spec.partial is not None:
            terms = [Mul(spec.partial(node.args, i), self.d(arg)) for i, arg in enumerate(node.args)
                     if depends_on(arg, self.variable)]
            total = terms[0]
            for term in terms[1:]:
                total = Add(total, term)
            return total
        raise FormulaError(f"no derivative of {node.name} is known")

    def _d_Piecewise(self, node: Piecewise) -> Expr:
        # Away from the boundaries each piece is its own function: d of each value.
        return Piecewise(tuple((self.d(value), condition) for value, condition in node.pieces))

    def _d_Sum(self, node: Sum) -> Expr:
        if _indexed_by(node.body, self.variable, node.index):
            # ∂/∂aⱼ of Σⱼ f(aⱼ) is f′(aⱼ): only the term of that very j depends on aⱼ
            return self.d(node.body)
        return Sum(self.d(node.body), node.index)


def derivative_of(spec: Function, args: tuple[Expr, ...], order: int) -> Expr:
    """f⁽ⁿ⁾(args) written out from the rule (``sigma'(z)`` is σ(z)·(1 − σ(z)))."""
    if len(args) != 1 or spec.fdiff is None:
        raise FormulaError(f"no derivative of {spec.name} is known")
    (argument,) = args
    placeholder = "x__"
    tree: Expr = Call(spec.name, (Sym(placeholder),))
    for _ in range(order):
        tree = _Differentiator(placeholder, function_table()).d(tree)
    return substitute(simplify(tree), {placeholder: argument})


# ------------------------------------------------------------------ simplification

def _number(node: Expr) -> Any:
    """The value of a real number node, else None."""
    if isinstance(node, Num) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    return None


def _is(node: Expr, value: float) -> bool:
    number = _number(node)
    return number is not None and number == value


def _num(value: Any) -> Num:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        value = int(value)
    return Num(value)


def _negative(node: Expr) -> Expr | None:
    """x for −x or for a negative number, else None."""
    if isinstance(node, Neg):
        return node.operand
    number = _number(node)
    if number is not None and number < 0:
        return _num(-number)
    return None


def simplify(tree: Expr) -> Expr:
    """Textbook simplification, bottom-up until nothing changes."""
    for _ in range(8):
        simpler = _simplify(tree)
        if simpler == tree:
            return simpler
        tree = simpler
    return tree


_RULES: dict[type, Callable[[Any], Expr]] = {}


def _rule(cls: type) -> Callable[[Callable[[Any], Expr]], Callable[[Any], Expr]]:
    def register(function: Callable[[Any], Expr]) -> Callable[[Any], Expr]:
        _RULES[cls] = function
        return function
    return register


def _simplify(tree: Expr) -> Expr:
    return bottom_up(tree, lambda node: _RULES[type(node)](node) if type(node) in _RULES else node)


@_rule(Neg)
def _neg(node: Neg) -> Expr:
    inner = node.operand
    if isinstance(inner, Neg):
        return inner.operand
    number = _number(inner)
    if number is not None:
        return _num(-number)
    if isinstance(inner, Sub):                       # −(x − y) = y − x
        return Sub(inner.right, inner.left)
    return node


@_rule(Add)
def _add(node: Add) -> Expr:
    a, b = node.left, node.right
    if _is(a, 0):
        return b
    if _is(b, 0):
        return a
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return _num(x + y)
    if (negated := _negative(b)) is not None:        # x + (−y) = x − y
        return Sub(a, negated)
    if (negated := _negative(a)) is not None:        # −x + y = y − x
        return Sub(b, negated)
    if a == b:
        return Mul(Num(2), a)
    return node


@_rule(Sub)
def _sub(node: Sub) -> Expr:
    a, b = node.left, node.right
    if _is(b, 0):
        return a
    if _is(a, 0):
        return Neg(b)
    if a == b:
        return ZERO
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return _num(x - y)
    if (negated := _negative(b)) is not None:        # x − (−y) = x + y
        return Add(a, negated)
    return node


@_rule(Mul)
def _mul(node: Mul) -> Expr:
    a, b = node.left, node.right
    if _is(a, 0) or _is(b, 0):
        return ZERO
    if _is(a, 1):
        return b
    if _is(b, 1):
        return a
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return _num(x * y)
    if _is(a, -1):
        return Neg(b)
    if _is(b, -1):
        return Neg(a)
    for one, other in ((a, b), (b, a)):              # a sign in front: (−x)·y = −(x·y)
        if isinstance(one, Neg):
            return Neg(Mul(one.operand, other) if one is a else Mul(other, one.operand))
    if y is not None and x is None:                  # the number in front: x·2 = 2·x
        return Mul(b, a)
    if x is not None and isinstance(b, Mul) and _number(b.left) is not None:
        return Mul(_num(x * _number(b.left)), b.right)   # 2·(3·x) = 6·x
    if isinstance(b, Div) and _is(b.left, 1):        # x·(1/y) = x/y
        return Div(a, b.right)
    if isinstance(a, Div) and _is(a.left, 1):        # (1/y)·x = x/y
        return Div(b, a.right)
    if isinstance(b, Div) and x is not None:         # 2·(x/3) = (2·x)/3, so constants meet
        return _div(Div(Mul(a, b.left), b.right))
    if a == b:
        return Pow(a, Num(2))
    return node


@_rule(Div)
def _div(node: Div) -> Expr:
    a, b = node.left, node.right
    if _is(a, 0):
        return ZERO
    if _is(b, 1):
        return a
    if a == b:
        return ONE
    x, y = _number(a), _number(b)
    if x is not None and y is not None and y != 0:
        if isinstance(x, int) and isinstance(y, int):
            if x % y == 0:
                return _num(x // y)
            common = math.gcd(x, y)                  # 6/4 = 3/2: a fraction in lowest terms
            return Div(Num(x // common), Num(y // common)) if common > 1 else node
        return _num(x / y)
    if isinstance(a, Neg):
        return Neg(Div(a.operand, b))
    if isinstance(b, Neg):
        return Neg(Div(a, b.operand))
    if isinstance(a, Mul) and a.left == b:           # (u·v)/u = v
        return a.right
    if isinstance(a, Mul) and a.right == b:          # (u·v)/v = u
        return a.left
    (c, top), (k, bottom) = _coefficient(a), _coefficient(b)
    if c and k and (common := math.gcd(c, k)) > 1:   # (6·x)/(4·y) = (3·x)/(2·y)
        return Div(_times(c // common, top), _times(k // common, bottom))
    if isinstance(a, Div):                           # (x/y)/z = x/(y·z)
        return Div(a.left, Mul(a.right, b))
    return node


@_rule(Pow)
def _pow(node: Pow) -> Expr:
    a, n = node.base, node.exponent
    if _is(n, 0):
        return ONE
    if _is(n, 1):
        return a
    if _is(a, 1):
        return ONE
    x, y = _number(a), _number(n)
    if x is not None and y is not None and isinstance(x, int) and isinstance(y, int) and 0 <= y <= 64:
        return _num(x ** y)
    if isinstance(a, Pow) and _number(a.exponent) is not None and y is not None and float(y).is_integer():
        return Pow(a.base, _num(_number(a.exponent) * y))   # (x²)^½ is |x|: integer n only
    return node


def _coefficient(node: Expr) -> tuple[int | None, Expr | None]:
    """(c, rest) for an integer c times rest (rest None for the integer alone)."""
    number = _number(node)
    if isinstance(number, int):
        return number, None
    if isinstance(node, Mul) and isinstance(_number(node.left), int):
        return _number(node.left), node.right
    return None, None


def _times(c: int, rest: Expr | None) -> Expr:
    if rest is None:
        return Num(c)
    return rest if c == 1 else Mul(Num(c), rest)


def _decided(condition: Expr) -> bool | None:
    """The truth of a condition between numbers, or None."""
    if isinstance(condition, Compare):
        x, y = _number(condition.left), _number(condition.right)
        if x is not None and y is not None:
            return {">": x > y, "<": x < y, "≥": x >= y, "≤": x <= y, "=": x == y, "≠": x != y}[
                condition.relation]
    return None


@_rule(Piecewise)
def _piecewise(node: Piecewise) -> Expr:
    pieces = []
    for value, condition in node.pieces:
        decided = None if condition is None else _decided(condition)
        if decided is False:
            continue
        if condition is None or decided:
            pieces.append((value, None))
            break
        pieces.append((value, condition))
    if not pieces:
        return Num(math.nan)
    if pieces[-1][1] is None and all(value == pieces[0][0] for value, _ in pieces):
        return pieces[0][0]
    if len(pieces) == 1 and pieces[0][1] is None:
        return pieces[0][0]
    simpler = Piecewise(tuple(pieces))
    return node if simpler == node else simpler


@_rule(Sum)
def _sum(node: Sum) -> Expr:
    body = node.body
    if isinstance(body, Neg):
        return Neg(Sum(body.operand, node.index))
    if isinstance(body, Mul) and _number(body.left) is not None:
        return Mul(body.left, Sum(body.right, node.index))
    if isinstance(body, Div) and not depends_on(body.right, node.index) and not _indexed(body.right, node.index):
        return Div(Sum(body.left, node.index), body.right)
    return node


def _indexed_by(tree: Expr, variable: str, index: str) -> bool:
    """Is ``variable`` a symbol of ``tree`` subscripted with the sum's own index (aⱼ in Σⱼ)?"""
    from .expr import _children

    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Sym) and node.key == variable and node.sub is not None and index in node.sub:
            return True
        stack.extend(_children(node))
    return False


def _indexed(tree: Expr, index: str) -> bool:
    """Does the tree use ``index`` as a subscript (aⱼ in a Σⱼ)?"""
    return any(isinstance(node, Sym) and node.sub is not None and index in node.sub for node in nodes(tree))


def replace(tree: Expr, replacements: Mapping[Expr, Expr]) -> Expr:
    """``tree`` with every subtree equal to a key replaced by its value (whole subtrees,
    e.g. σ(z) → a, the activation a student already has)."""
    from .expr import _children, _rebuild

    if tree in replacements:
        return replacements[tree]
    children = _children(tree)
    if not children:
        return tree
    new = [replace(child, replacements) for child in children]
    if all(n is o for n, o in zip(new, children)):
        return tree
    return _rebuild(tree, new)

