"""Node formulas as straight-line programs, compiled once per shape.

A graph of thousands of nodes repeats a few formulas with other names and numbers
(h_t = tanh(w·h_{t−1} + u·x_t + b) at every time step), so a formula's *shape* (its
tree with the names and the numbers taken out) is compiled once into instructions over
a tape: the names' values, then the numbers, then one entry per operation. A loop runs
it forward, and back in reverse mode for the local derivatives: each operator's rule
is arithmetic, and each function's derivative is its registry entry's ``fdiff`` tree
(:class:`bpcalc.expr.Function`), compiled the same way, so no rule is written twice.

Values are Python floats (one example) or NumPy arrays (one entry per example); the
caller runs under ``np.errstate(all="ignore")`` and reports what is not finite.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BpcalcError
from .expr import (
    Add,
    Call,
    Compare,
    Div,
    Expr,
    Mul,
    Neg,
    Num,
    Parallel,
    Piecewise,
    Pow,
    Sub,
    Sym,
    function_table,
)

ADD, SUB, MUL, DIV, POW, NEG, PAR, CALL, CMP, PIECE = range(10)
_BINARY = {Add: ADD, Sub: SUB, Mul: MUL, Div: DIV, Pow: POW, Parallel: PAR}


@dataclass(frozen=True)
class Program:
    """Instructions ``(op, argument tape indices, extra, which arguments need a gradient)``;
    ``result`` is the tape index of the formula's value."""

    slots: int
    numbers: int
    code: tuple[tuple[int, tuple[int, ...], Any, tuple[bool, ...]], ...]
    varying: tuple[bool, ...]           # per instruction: depends on a name
    result: int


@dataclass(frozen=True)
class Shape:
    """A formula's compiled program, the names filling its slots, and its numbers."""

    program: Program
    names: tuple[str, ...]
    numbers: tuple[float, ...]


_PROGRAMS: dict[Any, Program] = {}


def shape_of(tree: Expr, constants: Callable[[str], float | None] = lambda key: None) -> Shape:
    """The tree's shape: its program (from the cache when the shape was seen before), the
    distinct names in reading order, and its numbers. ``constants`` gives the value of a
    symbol that is a constant (e or pi), or None for a name."""
    names: dict[str, int] = {}
    numbers: list[float] = []

    def key(node: Expr) -> Any:
        kind = type(node)
        if kind is Sym:
            name = node.name if node.sub is None and node.sup is None else node.key
            value = constants(name)
            if value is not None:
                numbers.append(value)
                return ("n", len(numbers) - 1)
            return ("s", names.setdefault(name, len(names)))
        if kind is Num:
            numbers.append(float(node.value))
            return ("n", len(numbers) - 1)
        if kind in _BINARY:
            if kind is Pow:
                return (_BINARY[kind], key(node.base), key(node.exponent))
            return (_BINARY[kind], key(node.left), key(node.right))
        if kind is Neg:
            return (NEG, key(node.operand))
        if kind is Call:
            return (CALL, node.name, *(key(arg) for arg in node.args))
        if kind is Compare:
            return (CMP, node.relation, key(node.left), key(node.right))
        if kind is Piecewise:
            return (PIECE, tuple((key(value), None if condition is None else key(condition))
                                 for value, condition in node.pieces))
        raise BpcalcError(f"a {kind.__name__} cannot appear in a graph node")

    shape = key(tree)
    signature = (shape, len(names), len(numbers))
    program = _PROGRAMS.get(signature)
    if program is None:
        program = _PROGRAMS[signature] = _compile(shape, len(names), len(numbers))
    return Shape(program, tuple(names), tuple(numbers))


def _compile(shape: Any, slots: int, count: int) -> Program:
    code: list[tuple[int, tuple[int, ...], Any, tuple[bool, ...]]] = []
    varying: list[bool] = []
    base = slots + count

    def depends(index: int) -> bool:
        return index < slots or (index >= base and varying[index - base])

    def emit(node: Any) -> int:
        tag = node[0]
        if tag == "s":
            return node[1]
        if tag == "n":
            return slots + node[1]
        if tag == CALL:
            args, extra = tuple(emit(arg) for arg in node[2:]), node[1]
        elif tag == CMP:
            args, extra = (emit(node[2]), emit(node[3])), node[1]
        elif tag == PIECE:
            flat: list[int] = []
            for value, condition in node[1]:
                flat.append(emit(value))
                flat.append(-1 if condition is None else emit(condition))
            args, extra = tuple(flat), None
        else:
            args, extra = tuple(emit(child) for child in node[1:]), None
        needs = tuple(i >= 0 and depends(i) for i in args)
        code.append((tag, args, extra, needs))
        varying.append(any(needs))
        return base + len(code) - 1

    result = emit(shape)
    return Program(slots, count, tuple(code), tuple(varying), result)


# --------------------------------------------------------------------------- running


def run(program: Program, values: list[Any], numbers: tuple[float, ...]) -> list[Any]:
    """The tape: the names' values, the numbers, then each operation's value."""
    tape = [*values, *numbers]
    append = tape.append
    for op, args, extra, _needs in program.code:
        if op == MUL:
            append(tape[args[0]] * tape[args[1]])
        elif op == ADD:
            append(tape[args[0]] + tape[args[1]])
        elif op == CALL:
            append(evaluate_function(extra, [tape[i] for i in args]))
        elif op == SUB:
            append(tape[args[0]] - tape[args[1]])
        elif op == DIV:
            append(np.true_divide(tape[args[0]], tape[args[1]]))
        elif op == POW:
            append(_power(tape[args[0]], tape[args[1]]))
        elif op == NEG:
            append(-tape[args[0]])
        elif op == PAR:
            append(np.true_divide(1.0, np.true_divide(1.0, tape[args[0]]) + np.true_divide(1.0, tape[args[1]])))
        elif op == CMP:
            append(_RELATIONS[extra](tape[args[0]], tape[args[1]]))
        else:
            append(_piece(tape, args))
    return tape


def gradient(program: Program, tape: list[Any]) -> list[Any]:
    """∂(result)/∂(each slot), by reverse mode over the tape (0.0 for a slot not reached)."""
    adjoint: list[Any] = [None] * len(tape)
    adjoint[program.result] = 1.0
    base = program.slots + program.numbers
    code = program.code
    for k in range(len(code) - 1, -1, -1):
        g = adjoint[base + k]
        if g is None or not program.varying[k]:
            continue
        op, args, extra, needs = code[k]
        if op == ADD:
            parts: Any = (g, g)
        elif op == MUL:
            parts = (g * tape[args[1]], g * tape[args[0]])
        elif op == SUB:
            parts = (g, -g)
        elif op == CALL:
            parts = [g * part for part in _function_partials(extra, [tape[i] for i in args])]
        elif op == DIV:
            a, b = tape[args[0]], tape[args[1]]
            parts = (np.true_divide(g, b), -g * np.true_divide(a, np.square(b)))
        elif op == POW:
            a, b = tape[args[0]], tape[args[1]]
            parts = (g * b * _power(a, b - 1.0),
                     g * tape[base + k] * np.log(np.asarray(a, dtype=np.float64)) if needs[1] else 0.0)
        elif op == NEG:
            parts = (-g,)
        elif op == PAR:
            value = tape[base + k]
            parts = (g * np.square(np.true_divide(value, tape[args[0]])),
                     g * np.square(np.true_divide(value, tape[args[1]])))
        else:
            raise BpcalcError("a comparison or a piecewise form cannot be differentiated here")
        for index, need, part in zip(args, needs, parts):
            if need:
                previous = adjoint[index]
                adjoint[index] = part if previous is None else previous + part
    return [0.0 if adjoint[i] is None else adjoint[i] for i in range(program.slots)]


def _power(base: Any, exponent: Any) -> Any:
    """Real powers only: a negative base takes an integer exponent (else NaN, reported)."""
    return np.power(np.asarray(base, dtype=np.float64), exponent)


_RELATIONS: dict[str, Callable[[Any, Any], Any]] = {     # elementwise on arrays, plain on floats
    ">": operator.gt, "<": operator.lt, "≥": operator.ge, "≤": operator.le, "=": operator.eq, "≠": operator.ne,
}


def _piece(tape: list[Any], args: tuple[int, ...]) -> Any:
    """The value of the first piece whose condition holds (each example its own)."""
    values = [tape[i] for i in args[0::2]]
    conditions = [True if i < 0 else tape[i] for i in args[1::2]]
    if not any(isinstance(c, np.ndarray) for c in conditions):
        return next(value for value, holds in zip(values, conditions) if holds)
    return np.select(np.broadcast_arrays(*conditions), np.broadcast_arrays(*values))


def evaluate_function(name: str, args: list[Any]) -> Any:
    """A function of the formula language at real values (NaN outside its real domain)."""
    result = function_table()[name].func(*args)
    if np.iscomplexobj(result):
        return np.full(np.shape(result), np.nan)          # outside the real domain: reported
    return result


_DERIVATIVES: dict[str, Shape] = {}
_ARGUMENT = "x__"       # the placeholder a rule is written in; no formula can name it


def _function_partials(name: str, args: list[Any]) -> list[Any]:
    """∂f/∂argument: the registry's fdiff; for max and min, the gradient goes to the
    extreme argument (the first one on a tie, as an argmax picks)."""
    spec = function_table()[name]
    if spec.partial is not None:
        pick = np.argmax if name == "max" else np.argmin
        stacked = np.stack(np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args)))
        winner = pick(stacked, axis=0)
        return [(winner == i).astype(np.float64) for i in range(len(args))]
    rule = _DERIVATIVES.get(name)
    if rule is None:
        if spec.fdiff is None:
            raise BpcalcError(f"{name} has no derivative")
        rule = _DERIVATIVES[name] = shape_of(spec.fdiff(Sym(_ARGUMENT)), _constant)
    tape = run(rule.program, [args[0]] if rule.names else [], rule.numbers)
    return [tape[rule.program.result]]


def _constant(name: str) -> float | None:
    from .expr import CONSTANTS

    if name == _ARGUMENT:
        return None
    value = CONSTANTS.get(name.lower())
    return float(value) if isinstance(value, (int, float)) else None
