"""An independent oracle for graph problems (a test helper; it must not import bpcalc).

It reads the raw graph document (the ``yaml.safe_load`` mapping of the contract:
``inputs``, ``parameters``, ``nodes``, ``output``, ``examples``, ``reduction``,
``learning_rate``) and computes every value and gradient in two ways that share
nothing with bpcalc's parser, solver or calculus:

* :func:`solve` (SymPy): each formula is translated to Python syntax by this module's
  own tokenizer (``^`` → ``**``, each number → an exact ``Rational`` of its decimal
  text) and read by ``sympy.sympify`` with a dictionary of every name, so no name
  falls through to SymPy's globals. The output is composed by substitution into one
  expression of the leaves, differentiated with ``sympy.diff`` with respect to each
  leaf, and evaluated exactly at the leaf values (exact decimals) to ``DIGITS``
  digits. ``∂output/∂node`` keeps that node a symbol while composing the rest.
* :func:`reverse_mode` (plain Python floats): each node's local derivatives
  ∂node/∂u are SymPy derivatives of that one formula, turned into Python functions
  with ``lambdify(modules="math")``; the chain rule then runs backward over the
  nodes, adding up the uses of a value that fans out. Faster on bigger graphs.

The formula language, as the contract states it: ``+ - * / ^`` (``^`` right-assoc,
a sign at the start of a sum applies to the whole first product, a sign right after
an operator or another sign belongs to the number it precedes: ``2^-1`` = 1/2,
``2*-2^2`` = 8), and the functions

    sigma(x) = 1/(1 + exp(−x))      relu(x) = Max(0, x), relu′(0) = 0 (Heaviside, H(0) = 0)
    softplus(x) = ln(1 + exp(x))    ln = log, exp, sqrt, tanh, abs (abs′ = sign, 0 at 0)
    max(a, b, …), min(a, b, …)      (a Piecewise: on a tie the first extreme argument wins,
                                     as an argmax picks, so its derivative goes there)

plus sin, cos, tan, sinh, cosh, arctan, arcsin, arccos, log10, log2 and erf. The
constants ``e`` and ``pi`` unless a leaf or node has that name.

Results follow ``GraphSolution.to_dict()``: ``{"output", "value", "nodes": {NAME:
{"value", "grad"}}, "gradients", "updated", "total"?}``, per-example entries as lists;
:func:`lookup` resolves the answer-key paths (``gradients.x``, ``nodes.h1.grad[2]``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import sympy as sp

DIGITS = 30

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
                    r"|([A-Za-z][A-Za-z0-9_]*)|(\*\*|[-+*/^(),]))")
_SIGN_BINDS_AFTER = {"*", "/", "^", "**", "+", "-"}    # a sign after these starts a number


def _sigma(x):
    return 1 / (1 + sp.exp(-x))


def _relu(x):
    return sp.Max(0, x)


def _softplus(x):
    return sp.log(1 + sp.exp(x))


def _extreme(args, relation):
    """max/min as a Piecewise that picks the first extreme argument on a tie."""
    if len(args) == 1:
        return args[0]
    pieces = []
    for i, candidate in enumerate(args[:-1]):
        conditions = [relation(candidate, other) for other in args[i + 1:]]
        pieces.append((candidate, sp.And(*conditions)))
    pieces.append((args[-1], True))
    return sp.Piecewise(*pieces)


FUNCTIONS: dict[str, Any] = {
    "sigma": _sigma, "sigmoid": _sigma, "relu": _relu, "softplus": _softplus,
    "ln": sp.log, "exp": sp.exp, "sqrt": sp.sqrt, "tanh": sp.tanh, "abs": sp.Abs,
    "max": lambda *a: _extreme(a, lambda p, q: p >= q),
    "min": lambda *a: _extreme(a, lambda p, q: p <= q),
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "sinh": sp.sinh, "cosh": sp.cosh,
    "arctan": sp.atan, "arcsin": sp.asin, "arccos": sp.acos, "erf": sp.erf,
    "log10": lambda x: sp.log(x, 10), "log2": lambda x: sp.log(x, 2),
}


class OracleError(ValueError):
    """A formula this oracle cannot read (not the contract's language)."""


def translate(text: str, names: Mapping[str, str]) -> str:
    """Formula text -> Python/SymPy text. ``names`` maps each leaf/node name to the
    identifier it gets in the translation (``n_<name>``, so no name meets SymPy's)."""
    out: list[str] = []
    previous = None           # the previous significant token, or None at the start
    pos, text = 0, str(text)
    pending_sign = ""
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise OracleError(f"cannot read {text!r} at character {pos + 1}")
        number, name, op = match.groups()
        pos = match.end()
        if op in ("+", "-") and previous in _SIGN_BINDS_AFTER:
            # a sign after an operator or a sign: it must start a number, and binds to it
            following = _TOKEN.match(text, pos)
            if not following or following.group(1) is None:
                raise OracleError(f"a sign after {previous!r} must start a number in {text!r}")
            pending_sign = "-" if (op == "-") != (pending_sign == "-") else ""
            previous = op
            continue
        if number is not None:
            out.append(f'Rational("{pending_sign}{number}")')
            pending_sign = ""
        elif name is not None:
            lower = name.lower()
            if name in names:
                out.append(names[name])
            elif lower in FUNCTIONS:
                out.append(f"f_{lower}")
            elif name == "e":
                out.append("E")
            elif name == "pi":
                out.append("pi")
            else:
                raise OracleError(f"unknown name {name!r} in {text!r}")
        else:
            out.append("**" if op in ("^", "**") else op)
        previous = op if op else "operand"
    return " ".join(out)


def _symbol(name: str) -> sp.Symbol:
    return sp.Symbol(f"n_{name}", real=True)


class Graph:
    """The document read as SymPy: leaf symbols, node expressions over earlier names."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.shared = {k: sp.Rational(str(v)) for k, v in (document.get("inputs") or {}).items()}
        self.parameters = {k: sp.Rational(str(v)) for k, v in (document.get("parameters") or {}).items()}
        raw_examples = document.get("examples")
        self.single = raw_examples is None
        self.examples = [{k: sp.Rational(str(v)) for k, v in ex["inputs"].items()}
                         for ex in (raw_examples or [{"inputs": {}}])]
        self.varying = list(self.examples[0])
        self.inputs = [*self.shared, *self.varying]
        self.leaves = [*self.inputs, *self.parameters]
        self.symbols = {name: _symbol(name) for name in [*self.leaves, *document["nodes"]]}
        identifiers = {name: str(symbol) for name, symbol in self.symbols.items()}
        local = {str(s): s for s in self.symbols.values()}
        local.update({f"f_{k}": v for k, v in FUNCTIONS.items()})
        local.update({"Rational": sp.Rational, "E": sp.E, "pi": sp.pi})
        self.formulas: dict[str, sp.Expr] = {}
        for name, text in document["nodes"].items():
            self.formulas[name] = sp.sympify(translate(text, identifiers), locals=local)
        self.nodes = list(self.formulas)
        self.output = document.get("output") or self.nodes[-1]
        self.reduction = document.get("reduction", "mean")
        rate = document.get("learning_rate")
        self.rate = None if rate is None else sp.Rational(str(rate))

    def values_of(self, example: int) -> dict[sp.Symbol, sp.Rational]:
        leaves = {**self.shared, **self.examples[example], **self.parameters}
        return {self.symbols[k]: v for k, v in leaves.items()}

    def composed(self, keep: str | None = None) -> dict[str, sp.Expr]:
        """Every node as an expression of the leaves (and of node ``keep``, kept a symbol)."""
        expressions: dict[sp.Symbol, sp.Expr] = {}
        result = {}
        for name in self.nodes:
            expression = self.formulas[name].xreplace(expressions)
            result[name] = self.symbols[name] if name == keep else expression
            if name != keep:
                expressions[self.symbols[name]] = expression
        return result


def _heaviside_zero(expression: sp.Expr) -> sp.Expr:
    """relu′(0) = 0: every Heaviside step takes the value 0 at 0."""
    return expression.replace(sp.Heaviside, lambda arg, *rest: sp.Heaviside(arg, 0))


def _number(expression: sp.Expr, values: Mapping[sp.Symbol, sp.Rational]) -> sp.Float:
    value = sp.N(_heaviside_zero(expression).xreplace(values), DIGITS)
    if not value.is_real or not value.is_finite:
        raise OracleError(f"not a finite real number: {value}")
    return value


def solve(document: Mapping[str, Any], *, node_grads: bool = True, exact: bool = False) -> dict[str, Any]:
    """Values, ∂output/∂(every leaf and node), the reduced gradients and the SGD update,
    by composing the output symbolically. ``exact`` keeps SymPy Floats of DIGITS digits."""
    graph = Graph(document)
    composed = graph.composed()
    output = composed[graph.output]
    derivatives = {leaf: sp.diff(output, graph.symbols[leaf]) for leaf in graph.leaves}
    node_derivatives = {}
    if node_grads:
        for name in graph.nodes:
            kept = graph.composed(keep=name)[graph.output]
            node_derivatives[name] = (sp.diff(kept, graph.symbols[name]), composed[name])
    per: dict[str, list] = {"value": []}
    for i in range(len(graph.examples)):
        values = graph.values_of(i)
        per["value"].append(_number(output, values))
        for name in graph.nodes:
            per.setdefault(("value", name), []).append(_number(composed[name], values))
            if node_grads:
                derivative, own = node_derivatives[name]
                at = {**values, graph.symbols[name]: _number(own, values)}
                per.setdefault(("grad", name), []).append(_number(derivative, at))
        for leaf in graph.leaves:
            per.setdefault(("leaf", leaf), []).append(_number(derivatives[leaf], values))
    return _document(graph, per, (lambda v: v) if exact else float)


def _document(graph: Graph, per: Mapping[Any, list], convert) -> dict[str, Any]:
    count = len(graph.examples)

    def shown(values):
        return convert(values[0]) if graph.single else [convert(v) for v in values]

    def reduce(values):
        total = sum(values[1:], values[0])
        return convert(total / count if graph.reduction == "mean" else total)

    gradients = {leaf: (shown(per[("leaf", leaf)]) if leaf in graph.varying else reduce(per[("leaf", leaf)]))
                 for leaf in graph.leaves}
    result: dict[str, Any] = {
        "output": graph.output,
        "value": shown(per["value"]),
        "nodes": {name: {"value": shown(per[("value", name)]),
                         **({"grad": shown(per[("grad", name)])} if ("grad", name) in per else {})}
                  for name in graph.nodes},
        "gradients": gradients,
        "updated": ({} if graph.rate is None else
                    {name: convert(value - graph.rate * _exact(gradients[name]))
                     for name, value in graph.parameters.items()}),
    }
    if not graph.single:
        result["total"] = reduce(per["value"])
        result["reduction"] = graph.reduction
    return result


def _exact(value):
    return value if isinstance(value, sp.Basic) else sp.Float(value, 17)


def reverse_mode(document: Mapping[str, Any]) -> dict[str, Any]:
    """The same document, in float64: a forward pass node by node, then the chain rule
    in reverse over the nodes with each node's own local derivatives (lambdified).
    The result also has ``kink``: how far the nearest kink (a relu or abs argument, a
    max/min comparison) is from 0 at the point, over every example (inf: smooth)."""
    graph = Graph(document)
    programs = []
    for name in graph.nodes:
        formula = graph.formulas[name]
        used = sorted(formula.free_symbols, key=str)
        args = [str(s)[2:] for s in used]
        value = sp.lambdify(used, formula, modules=[_MATH, "math"])
        partials = [sp.lambdify(used, _heaviside_zero(sp.diff(formula, s)), modules=[_MATH, "math"])
                    for s in used]
        kinks = [sp.lambdify(used, k, modules=[_MATH, "math"]) for k in _kink_arguments(formula)]
        programs.append((name, args, value, partials, kinks))
    per: dict[Any, list] = {"value": []}
    margin = math.inf
    for i in range(len(graph.examples)):
        env = {k: float(v) for k, v in {**graph.shared, **graph.examples[i], **graph.parameters}.items()}
        for name, args, value, _, kinks in programs:
            point = [env[a] for a in args]
            env[name] = float(value(*point))
            margin = min([margin, *(abs(float(k(*point))) for k in kinks)])
        grads = dict.fromkeys(env, 0.0)
        grads[graph.output] = 1.0
        for name, args, _, partials, _ in reversed(programs):
            point = [env[a] for a in args]
            for arg, partial in zip(args, partials):
                grads[arg] += grads[name] * float(partial(*point))
        per["value"].append(env[graph.output])
        for name in graph.nodes:
            per.setdefault(("value", name), []).append(env[name])
            per.setdefault(("grad", name), []).append(grads[name])
        for leaf in graph.leaves:
            per.setdefault(("leaf", leaf), []).append(grads[leaf])
    return {**_document(graph, per, float), "kink": margin}


def _heaviside(x, h0=0.0):
    return 1.0 if x > 0 else 0.0 if x < 0 else float(h0)


def _sign(x):
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


def _piecewise(*pieces):
    for value, condition in pieces:
        if condition:
            return value
    raise OracleError("no piece of a Piecewise holds")


_MATH = {"Heaviside": _heaviside, "sign": _sign, "Max": max, "Min": min, "Abs": abs,
         "log": math.log, "exp": math.exp, "erf": math.erf}


def lookup(solution: Mapping[str, Any], path: str) -> Any:
    """An answer-key path (``value``, ``gradients.x``, ``nodes.h1.grad[2]``) in a result."""
    value: Any = solution
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value


def _kink_arguments(formula: sp.Expr) -> list[sp.Expr]:
    """What must be far from 0 for the formula to be smooth: relu's and abs's arguments,
    and the differences that max and min compare."""
    found = [a.args[1] if a.args[0] == 0 else a.args[0] for a in formula.atoms(sp.Max, sp.Min)]
    found += [a.args[0] for a in formula.atoms(sp.Abs)]
    for piecewise in formula.atoms(sp.Piecewise):
        for _, condition in piecewise.args:
            for relation in (condition.args if isinstance(condition, sp.And) else (condition,)):
                if isinstance(relation, sp.core.relational.Relational):
                    found.append(relation.lhs - relation.rhs)
    return found
