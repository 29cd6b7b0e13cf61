"""Formula shapes: a class's answers to one formula question, evaluated together.

Students type one formula in many ways that differ only in spacing and in their numbers
(``w_1 - 0.5*eta*partialC/partialw_1``, ``w_1-2.25*eta*partialC/partialw_1``). Such answers
share a *shape* (:func:`bpcalc.formula.shape_key`): the same tokens, each number a slot
``#i``. A shape is parsed once (:func:`bpcalc.formula.parse_shape`) and compiled here into
a closure of NumPy operations on arrays whose rows are answers and whose columns are sample
points, so a batch of distinct answers costs one tokenization each and a few array
operations per shape, instead of a parse and an evaluation per answer.

The operations are :func:`bpcalc.expr.evaluate`'s on arrays, in its order (a sum starts
from 0, edX's ``||``, a product's left-to-right chain), so each row gets the value its own
tree gets from ``evaluate``. Where that cannot be guaranteed, :class:`NotBatchable` sends
the answer (or the whole shape) back to ``evaluate``, one answer at a time:

* Constant parts are computed per answer exactly as ``evaluate`` computes them in context:
  a number as written (``-0`` is the integer 0, ``-0.0`` a negative zero), and anything
  bigger (``(523/523)``, ``2^-1``, ``sqrt(2)``) by ``evaluate`` itself, with Python's exact
  integers, rounded once to float64 as they are when they meet the variables. An integer
  written with more digits than a float64 holds (beyond 2**53), a complex constant, or a
  zero whose sign ``evaluate``'s context could change, is not batchable.
* Any complex intermediate (a negative base to a fractional power, ``sqrt`` of a negative
  number) or any error is not batchable: ``evaluate`` decides such things for the whole
  array at once, so a batch would let one answer change another's numbers.

Functions are looked up by name through :func:`function_table` only.
"""

from __future__ import annotations

import itertools
import operator
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .expr import (CONSTANTS, Add, Call, Div, Expr, Mul, Neg, Num, Parallel, Pow, Sub, Sym, evaluate,
                   substitute)
from .formula import SLOT

__all__ = ["CompiledShape", "ConstantParts", "NotBatchable", "compile_shape", "function_table"]

_EXACT = 2 ** 53            # every integer up to this is exactly a float64
_CONSTANTS_MEMO = 65_536    # exact values of constant parts kept (then the memo starts afresh)

Closure = Callable[[Sequence[np.ndarray], Mapping[str, np.ndarray]], Any]


class NotBatchable(Exception):
    """This shape, or this answer, must be evaluated by ``expr.evaluate`` on its own."""


def function_table() -> Mapping[str, Any]:
    """The functions a formula may call, by name: the one place that names the registry
    (the math functions and the activations, :func:`bpcalc.expr.function_table`)."""
    from .expr import function_table as table

    return table()


class CompiledShape:
    """A shape compiled for one question's variables.

    ``constants(numbers)`` gives one answer's row of constant values (from its numbers, in
    token order); ``evaluate(rows, env)`` evaluates every answer at once: ``rows`` has one
    row of constants per answer, ``env`` maps each variable to a (1, points) array, and the
    result is (answers, points). ``used`` are the variables the formula depends on."""

    def __init__(self, root: Closure, pieces: list[Callable[[Sequence[Any]], Any]], used: frozenset[str],
                 direct: bool = False) -> None:
        self.root, self.pieces, self.used = root, pieces, used
        self.direct = direct            # the constants are the numbers as written, in order

    def constants(self, numbers: Sequence[Any]) -> Sequence[Any]:
        """Raises NotBatchable for an answer whose constants have no exact float64 value."""
        if self.direct:
            for value in numbers:
                if type(value) is int and not -_EXACT <= value <= _EXACT:
                    raise NotBatchable("an integer beyond 2**53")
            return numbers
        row = []
        for piece in self.pieces:
            value = piece(numbers)
            if type(value) is int and not -_EXACT <= value <= _EXACT:
                raise NotBatchable("an integer beyond 2**53")
            row.append(value)
        return row

    def evaluate(self, rows: np.ndarray, env: Mapping[str, np.ndarray]) -> np.ndarray:
        columns = [rows[:, j:j + 1] for j in range(rows.shape[1])]
        points = next(iter(env.values())).shape[-1] if env else 1
        with np.errstate(all="ignore"):
            try:
                result = np.asarray(self.root(columns, env))
            except NotBatchable:
                raise
            except Exception as error:          # evaluate decides, answer by answer
                raise NotBatchable(str(error)) from None
        if result.dtype.kind in "iub":
            result = result.astype(float)
        elif result.dtype.kind != "f":
            raise NotBatchable(f"values of kind {result.dtype}")
        return np.broadcast_to(result, (rows.shape[0], points))


def compile_shape(tree: Expr, variables: Sequence[str], constants: "ConstantParts | None" = None
                  ) -> CompiledShape:
    """Raises NotBatchable for a shape that only ``evaluate`` handles (a complex constant
    such as ``i``, a node a formula cannot contain, nesting too deep for the compiler).
    ``constants`` may be shared by many shapes (one question's, or a grader's)."""
    compiler = _Compiler(tree, variables, constants or ConstantParts())
    try:
        root = compiler.group(tree)
    except RecursionError:
        raise NotBatchable("nested too deeply to compile") from None
    direct = compiler.slots_of_pieces == list(range(len(compiler.pieces)))
    return CompiledShape(root, compiler.pieces, frozenset(compiler.used), direct)


class ConstantParts:
    """Exact values of the constant parts of formulas (``(523/523)``, ``2^-1``), by structure
    and numbers, shared by shapes: students who write ``(n/n)`` write it in many formulas.

    A value is ``expr.evaluate`` of the part with the numbers as variables ``#0``, ``#1``,
    …, which is the part's own value with Python's exact integers. One exception keeps it
    exact: ``-x`` of a variable is ``0 - x`` in evaluate while ``-0.0`` as written is a
    negative zero, so a float zero under a minus sign is put back as a number first."""

    def __init__(self) -> None:
        self._structures: dict[Expr, tuple[int, Expr, frozenset[int]]] = {}
        self._values: dict[tuple, Any] = {}
        self._ids = itertools.count()       # never reused, so a value is never another part's

    def structure(self, node: Expr, slots: Sequence[str]) -> tuple[int, Expr, frozenset[int]]:
        """(id, the part with its numbers renamed #0, #1, … in ``slots`` order, the numbers
        that stand under a minus sign)."""
        names = {key: f"{SLOT}{index}" for index, key in enumerate(slots)}
        canonical = substitute(node, {key: Sym(name) for key, name in names.items()})
        if canonical not in self._structures:
            if len(self._structures) >= _CONSTANTS_MEMO:
                self._structures.clear()
            negated = frozenset(int(names[sub.operand.key][len(SLOT):]) for sub in _walk(node)
                                if isinstance(sub, Neg) and _is_slot(sub.operand))
            self._structures[canonical] = (next(self._ids), canonical, negated)
        return self._structures[canonical]

    def value(self, structure: tuple[int, Expr, frozenset[int]], numbers: list[Any]) -> Any:
        """The part's exact value for these numbers; NotBatchable if evaluate refuses it."""
        key = (structure[0], *numbers, *map(type, numbers))    # 1 and 1.0 are not the same here
        value = self._values.get(key)
        if value is None:
            if len(self._values) >= _CONSTANTS_MEMO:
                self._values.clear()
            _number, canonical, negated = structure
            env = {f"{SLOT}{index}": number for index, number in enumerate(numbers)}
            if any(numbers[index] == 0 and type(numbers[index]) is float for index in negated):
                canonical, env = substitute(canonical, env), {}
            try:
                value = _evaluated(canonical, env)
            except NotBatchable as error:
                value = error
            self._values[key] = value
        if isinstance(value, NotBatchable):
            raise value
        return value


def _walk(node: Expr) -> list[Expr]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(_children(current))
    return found


def _lookup(mapping: Mapping[str, Any], name: str) -> Any:
    """Exact, then case-insensitive when unambiguous (as ``evaluate`` looks names up)."""
    if name in mapping:
        return mapping[name]
    matches = [key for key in mapping if key.casefold() == name.casefold()]
    if len(matches) != 1:
        raise NotBatchable(f"no single entry for {name!r}")
    return mapping[matches[0]]


def _is_slot(node: Expr) -> bool:
    return isinstance(node, Sym) and node.name.startswith(SLOT)


_OPERATIONS = (Neg, Add, Sub, Mul, Div, Parallel, Pow)


class _Compiler:
    """One closure per operation, mirroring evaluate's group/product/parallel/power/atom.

    A constant subtree becomes a *piece*: a value per answer, computed in Python as
    evaluate computes it in that position (its ``position``: which of evaluate's functions
    consumes it), then a column of the rows."""

    def __init__(self, tree: Expr, variables: Sequence[str], constants: "ConstantParts") -> None:
        self.constants = constants
        self.variables = {name: name for name in variables}
        self.pieces: list[Callable[[Sequence[Any]], Any]] = []
        self.slots_of_pieces: list[int | None] = []     # the number a piece is, as written
        self.used: set[str] = set()
        self.constant = self._constant_nodes(tree)

    def _constant_nodes(self, tree: Expr) -> set[int]:
        """ids of the subtrees without a variable (bottom-up, without recursion)."""
        constant: set[int] = set()
        stack: list[tuple[Expr, bool]] = [(tree, False)]
        while stack:
            node, done = stack.pop()
            children = _children(node)
            if not done and children:
                stack.append((node, True))
                stack.extend((child, False) for child in children)
            elif isinstance(node, Sym):
                if _is_slot(node) or not self._is_variable(node.key):
                    constant.add(id(node))
            elif isinstance(node, Num) or (children and all(id(c) in constant for c in children)):
                constant.add(id(node))
        return constant

    def _is_variable(self, key: str) -> bool:
        try:
            _lookup(self.variables, key)
        except NotBatchable:
            return False
        return True

    # -- constant pieces
    def piece(self, node: Expr, position: str) -> Closure:
        """The closure giving a constant subtree's value in ``position``: "group" where
        evaluate's ``group`` computes it (the whole value, as ``evaluate(node)``), else
        ("product", "parallel", "power", "atom") the value without the sum's leading 0 +."""
        if _is_slot(node):
            index = int(node.name[len(SLOT):])
            return self._column(lambda numbers: numbers[index], index)
        if isinstance(node, Neg) and _is_slot(node.operand):
            index = int(node.operand.name[len(SLOT):])
            if position == "group":                  # the sum's leading sign: 0 - v
                return self._column(lambda numbers: 0 - numbers[index])
            return self._column(lambda numbers: -numbers[index])
        if isinstance(node, Sym):
            value = _real(_lookup(CONSTANTS, node.key), position)
            return lambda columns, env: value
        slots = sorted(key for key in _symbols(node) if key.startswith(SLOT))
        if not slots:                                # e.g. pi/2: the same for every answer
            value = _real(_evaluated(node), position)
            return lambda columns, env: value
        indices = [int(key[len(SLOT):]) for key in slots]
        structure = self.constants.structure(node, slots)

        def compound(numbers: Sequence[Any]) -> Any:
            return _real(self.constants.value(structure, [numbers[i] for i in indices]), position)
        return self._column(compound)

    def _column(self, piece: Callable[[Sequence[Any]], Any], slot: int | None = None) -> Closure:
        index = len(self.pieces)
        self.pieces.append(piece)
        self.slots_of_pieces.append(slot)
        return lambda columns, env: columns[index]

    # -- evaluate's grammar, on arrays
    def chain(self, node: Expr, kinds: tuple[type, type]) -> tuple[Expr, list[tuple[bool, Expr]]]:
        """A left-nested chain a∘b∘c… of ``kinds`` (a sum or a product): its start and its
        links (is the operation kinds[0]?, operand) in the text's order. The start is the
        longest constant prefix if there is one, since evaluate's running total is a
        Python number there."""
        links = []
        while isinstance(node, kinds) and id(node) not in self.constant:
            links.append((isinstance(node, kinds[0]), node.right))
            node = node.left
        return node, links[::-1]

    def group(self, node: Expr) -> Closure:
        if id(node) in self.constant:
            return self.piece(node, "group")
        start, links = self.chain(node, (Add, Sub))
        if id(start) in self.constant:
            total = self.piece(start, "group")
        elif isinstance(start, Neg):                 # the sum's leading sign: 0 - product
            operand = self.product(start.operand)
            total = lambda columns, env: 0 - operand(columns, env)
        else:
            first = self.product(start)
            total = lambda columns, env: 0 + first(columns, env)
        return _fold(total, [(add, self.product(term)) for add, term in links], operator.add, operator.sub)

    def product(self, node: Expr) -> Closure:
        if id(node) in self.constant:
            return self.piece(node, "product")
        start, links = self.chain(node, (Mul, Div))
        # evaluate starts from 1 * the first factor: the same float array, so 1 * is left out
        first = self.piece(start, "product") if id(start) in self.constant else self.parallel(start)
        return _fold(first, [(multiply, self.parallel(factor)) for multiply, factor in links],
                     operator.mul, operator.truediv)

    def parallel(self, node: Expr) -> Closure:
        if id(node) in self.constant:
            return self.piece(node, "parallel")
        if not isinstance(node, Parallel):
            return self.power(node)
        operands = []
        while isinstance(node, Parallel):            # evaluate's a||b||c is one n-ary operation
            operands.append(node.right)
            node = node.left
        operands.append(node)
        compiled = [self.power(operand) for operand in reversed(operands)]

        def parallel_(columns, env):
            values = [np.asarray(operand(columns, env)) for operand in compiled]
            zero = np.zeros(np.broadcast(*values).shape, dtype=bool)
            for value in values:
                zero |= value == 0
            total: Any = 0
            for value in values:
                total = total + np.true_divide(1., np.where(value == 0, 1, value))
            return np.where(zero, np.nan, np.true_divide(1., total))
        return parallel_

    def power(self, node: Expr) -> Closure:
        if id(node) in self.constant:
            return self.piece(node, "power")
        if not isinstance(node, Pow):
            return self.atom(node)
        bases = []
        while isinstance(node, Pow) and id(node) not in self.constant:    # right-associative
            bases.append(self.atom(node.base))
            node = node.exponent
        last = self.piece(node, "power") if id(node) in self.constant else self.atom(node)
        bases.reverse()

        def power_(columns, env):
            value = last(columns, env)
            for base in bases:
                value = _power(base(columns, env), value)
            return value
        return power_

    def atom(self, node: Expr) -> Closure:
        if id(node) in self.constant:
            return self.piece(node, "atom")
        if isinstance(node, Sym):
            key = _lookup(self.variables, node.key)
            self.used.add(key)
            return lambda columns, env: env[key]
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, _OPERATIONS):
            return self.group(node)
        raise NotBatchable(f"a formula has no {type(node).__name__}")

    def call(self, node: Call) -> Closure:
        spec = _lookup(function_table(), node.name)
        func = getattr(spec, "func", spec)
        if node.derivative:
            func = getattr(spec, "derivative", None) if node.derivative == 1 else None
            if func is None:
                raise NotBatchable(f"no derivative of {node.name}")
        arguments = [self.group(argument) for argument in node.args]

        def call_(columns, env):
            value = func(*[argument(columns, env) for argument in arguments])
            if np.iscomplexobj(value):
                raise NotBatchable(f"{node.name} is complex here")
            return value
        return call_


def _fold(first: Closure, links: list[tuple[bool, Closure]], yes: Callable[[Any, Any], Any],
          no: Callable[[Any, Any], Any]) -> Closure:
    """The closure of a chain: ``first``, then each link applied left to right (``yes`` or
    ``no``, e.g. + or -), as evaluate walks a sum or a product."""
    if not links:
        return first

    def fold(columns, env):
        value = first(columns, env)
        for which, operand in links:
            value = (yes if which else no)(value, operand(columns, env))
        return value
    return fold


def _power(base: Any, exponent: Any) -> Any:
    """evaluate's power on arrays, for real values: a negative base to a fractional power
    would turn evaluate's whole array complex, which is not batchable."""
    base, exponent = np.asarray(base), np.asarray(exponent)
    if np.any((base < 0) & (exponent != np.floor(exponent))):
        raise NotBatchable("a negative base to a fractional power")
    return np.power(base, exponent)


def _evaluated(node: Expr, env: Mapping[str, Any] | None = None) -> Any:
    try:
        value = evaluate(node, env)
    except Exception as error:                   # evaluate will say why, in context
        raise NotBatchable(str(error)) from None
    if isinstance(value, np.ndarray):
        value = value[()]
    return value


def _real(value: Any, position: str) -> Any:
    """A constant's value as the rows carry it, or NotBatchable (see the module docstring):
    evaluate(node) is 0 + (the value in context), so only a zero's sign may differ."""
    if isinstance(value, (complex, np.complexfloating)) or isinstance(value, np.ndarray):
        raise NotBatchable("a complex constant")
    if isinstance(value, (bool, np.bool_)):
        raise NotBatchable("a truth value")
    if isinstance(value, (int, np.integer)):
        value = int(value)
        if not -_EXACT <= value <= _EXACT:
            raise NotBatchable("an integer beyond 2**53")
        return value
    value = float(value)
    if value == 0 and position != "group":
        raise NotBatchable("a zero whose sign is not known")
    return value


def _children(node: Expr) -> tuple[Expr, ...]:
    if isinstance(node, (Num, Sym)):
        return ()
    if isinstance(node, Neg):
        return (node.operand,)
    if isinstance(node, Pow):
        return (node.base, node.exponent)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, (Add, Sub, Mul, Div, Parallel)):
        return (node.left, node.right)
    raise NotBatchable(f"a formula has no {type(node).__name__}")


def _symbols(node: Expr) -> set[str]:
    from .expr import symbols

    return symbols(node)
