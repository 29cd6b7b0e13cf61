"""Computation graphs: staged formulas (f = (x + y)·z), fan-out, weight sharing, BPTT.

A graph problem names leaves (``inputs``, and ``parameters`` that SGD updates) and
``nodes``, each a formula of the course grader's language over earlier names. Solving
it is micrograd's ``Value.backward`` over whole formulas: a forward pass node by node,
then the chain rule in reverse order, where each node's *local* derivatives ∂node/∂u
come from its own expression tree and a value that fans out adds up the gradient of
every use. Values are NumPy arrays with one entry per example, so several input sets
cost one pass; no Python loop runs over examples.

Local derivatives are computed numerically by reverse-mode over the node's tree: each
operator's rule (∂(l·r)/∂l = r, …) is arithmetic, and each function's rule is its
registry entry's ``fdiff`` (:class:`bpcalc.expr.Function`), the same rule that
:func:`bpcalc.calculus.d` writes out symbolically for ``explain``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .errors import BpcalcError
from .expr import (
    CONSTANTS, Add, Call, Div, Expr, Mul, Neg, Num, Parallel, Pow, Sub, Sym, function_table,
)
from .numbers import format_number

Array = np.ndarray
Path = tuple[str | int, ...]

GRAPH_KEYS = ("title", "description", "inputs", "parameters", "nodes", "output", "learning_rate",
              "examples", "reduction", "expected", "questions")
REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class Node:
    """One named stage: its formula as written, its tree, and the names it reads."""

    name: str
    text: str
    tree: Expr
    uses: tuple[str, ...]          # distinct names, in order of first use


@dataclass(frozen=True)
class GraphProblem:
    """Leaves, nodes in order, the output node, and optionally a learning rate."""

    inputs: Mapping[str, Array]            # name -> (examples,)
    parameters: Mapping[str, float]
    nodes: tuple[Node, ...]
    output: str
    learning_rate: float | None = None
    reduction: str = "mean"
    examples: int = 1
    single: bool = True                    # no `examples:` list
    varying: frozenset[str] = frozenset()  # inputs given per example
    title: str | None = None
    description: str | None = None
    expected: Mapping[str, Any] = field(default_factory=dict)
    questions: tuple[Any, ...] = ()
    source: str | None = None
    lines: Mapping[Path, tuple[int, int]] = field(default_factory=dict, repr=False)
    kind = "graph"

    def __repr__(self) -> str:
        title = f" {self.title!r}" if self.title else ""
        return (f"<GraphProblem{title}: {len(self.nodes)} node(s), output {self.output}, "
                f"{len(self.leaves)} leaves, {self.examples} example(s)>")

    @property
    def leaves(self) -> tuple[str, ...]:
        return (*self.inputs, *self.parameters)

    def node(self, name: str) -> Node:
        return self._by_name[name]

    @property
    def _by_name(self) -> dict[str, Node]:
        return {node.name: node for node in self.nodes}

    def error(self, path: Path, message: str) -> BpcalcError:
        from .problem import _Validator

        return _Validator(self.source, self.lines).fail(path, message)


@dataclass(frozen=True)
class GraphSolution:
    """Every value, every gradient ∂output/∂name (per example), and every local derivative."""

    problem: GraphProblem
    values: Mapping[str, Array]                      # leaves and nodes, (examples,)
    grads: Mapping[str, Array]                       # ∂output/∂name, per example
    local: Mapping[tuple[str, str], Array]           # (node, used name) -> ∂node/∂used
    users: Mapping[str, tuple[str, ...]]             # name -> the nodes that read it, in order

    kind = "graph"

    def __repr__(self) -> str:
        return f"<GraphSolution {self.problem.output} = {self.value}>"

    def _repr_markdown_(self) -> str:
        from .render.markdown import tables_markdown
        from .render.tables import graph_tables

        return tables_markdown(graph_tables(self, 6), self.problem.title or "Graph")

    @property
    def value(self) -> float | list[float]:
        return self._per_example(self.values[self.problem.output])

    @property
    def total(self) -> float:
        """The output reduced over examples (mean or sum): what the gradients are of."""
        return float(self._reduce(self.values[self.problem.output]))

    @property
    def gradients(self) -> dict[str, float | list[float]]:
        """∂/∂leaf of the (reduced) output; an input given per example keeps one per example."""
        return {name: (self._per_example(self.grads[name]) if name in self.problem.varying
                       else float(self._reduce(self.grads[name]))) for name in self.problem.leaves}

    @property
    def updated(self) -> dict[str, float]:
        """One SGD step, w ← w − η ∂f/∂w, for each parameter (empty without a learning rate)."""
        rate = self.problem.learning_rate
        if rate is None:
            return {}
        gradients = self.gradients
        return {name: value - rate * gradients[name] for name, value in self.problem.parameters.items()}

    def contribution(self, user: str, name: str) -> Array:
        """The part of ∂output/∂name that flows through one use: ∂out/∂user · ∂user/∂name."""
        return self.grads[user] * self.local[(user, name)]

    def _reduce(self, values: Array) -> float:
        return values.mean() if self.problem.reduction == "mean" else values.sum()

    def _per_example(self, values: Array) -> float | list[float]:
        return float(values[0]) if self.problem.single else [float(v) for v in values]

    def to_dict(self) -> dict[str, Any]:
        problem = self.problem
        document: dict[str, Any] = {
            "output": problem.output,
            "value": self.value,
            "nodes": {node.name: {"formula": node.text,
                                  "value": self._per_example(self.values[node.name]),
                                  "grad": self._per_example(self.grads[node.name])}
                      for node in problem.nodes},
            "gradients": self.gradients,
            "updated": self.updated,
            "inputs": {name: self._per_example(values) if name in problem.varying else float(values[0])
                       for name, values in problem.inputs.items()},
            "parameters": {name: float(value) for name, value in problem.parameters.items()},
        }
        if not problem.single:
            document["total"] = self.total
            document["reduction"] = problem.reduction
        if problem.learning_rate is not None:
            document["learning_rate"] = problem.learning_rate
        return document


# --------------------------------------------------------------------------- solving


def solve_graph(problem: GraphProblem) -> GraphSolution:
    """Forward node by node, then the chain rule in reverse order, all examples at once."""
    size = problem.examples
    values: dict[str, Array] = {name: np.asarray(v, dtype=np.float64) for name, v in problem.inputs.items()}
    values.update({name: np.full(size, float(v)) for name, v in problem.parameters.items()})
    traces: list[_Trace] = []
    with np.errstate(all="ignore"):
        for node in problem.nodes:
            trace = _Trace(node, values, size)
            values[node.name] = trace.value
            _check_value(problem, node, trace)
            traces.append(trace)
        grads = {name: np.zeros(size) for name in values}
        grads[problem.output] = np.ones(size)
        local: dict[tuple[str, str], Array] = {}
        for trace in reversed(traces):
            node = trace.node
            outgoing = grads[node.name]
            for name, derivative in trace.local().items():
                if not np.all(np.isfinite(derivative)):
                    example = int(np.flatnonzero(~np.isfinite(derivative))[0])
                    at = format_number(float(values[name][example]), 6)
                    raise problem.error(("nodes", node.name), f"∂{node.name}/∂{name} is not finite at "
                                        f"{name} = {at}" + ("" if problem.single else f" (example {example + 1})")
                                        + f": {node.text} has no finite slope there")
                local[(node.name, name)] = derivative
                grads[name] = grads[name] + outgoing * derivative
        for name, gradient in grads.items():
            if not np.all(np.isfinite(gradient)):
                raise problem.error(_node_path(problem, name), f"the gradient ∂{problem.output}/∂{name} "
                                    "overflows float64 (or is undefined) at these numbers")
    users: dict[str, list[str]] = {name: [] for name in values}
    for node in problem.nodes:
        for name in node.uses:
            users[name].append(node.name)
    return GraphSolution(problem, values, grads, local, {k: tuple(v) for k, v in users.items()})


def _node_path(problem: GraphProblem, name: str) -> Path:
    if name in problem.parameters:
        return ("parameters", name)
    if name in problem.inputs:
        return ("inputs", name)
    return ("nodes", name)


_DERIVATIVES: dict[str, Callable[[Any], Any]] = {}


def _derivative(name: str) -> Callable[[Any], Any]:
    """f′ of a one-argument function, evaluated from its registry entry's fdiff."""
    if name not in _DERIVATIVES:
        spec = function_table()[name]
        if spec.derivative is None:
            raise BpcalcError(f"{name} has no derivative")
        _DERIVATIVES[name] = spec.derivative
    return _DERIVATIVES[name]


class _Trace:
    """One node's tree evaluated subtree by subtree (kept for its backward pass)."""

    __slots__ = ("node", "order", "values", "constant", "value", "size")

    def __init__(self, node: Node, env: Mapping[str, Array], size: int) -> None:
        self.node, self.size = node, size
        self.order: list[Expr] = []                 # post-order, each subtree once
        self.values: dict[int, Any] = {}
        self.constant: dict[int, bool] = {}
        self._evaluate(node.tree, env)
        value = self.values[id(node.tree)]
        self.value = np.broadcast_to(np.asarray(value, dtype=np.result_type(value, np.float64)),
                                     (size,)).copy()

    def _evaluate(self, tree: Expr, env: Mapping[str, Array]) -> None:
        stack: list[tuple[Expr, bool]] = [(tree, False)]
        values, constant = self.values, self.constant
        while stack:
            sub, expanded = stack.pop()
            key = id(sub)
            if key in values:
                continue
            children = _children(sub)
            if not expanded and children:
                stack.append((sub, True))
                stack.extend((child, False) for child in reversed(children) if id(child) not in values)
                continue
            values[key] = _apply(sub, [values[id(c)] for c in children], env)
            constant[key] = (not isinstance(sub, Sym) or sub.key not in env) and \
                all(constant[id(c)] for c in children)
            self.order.append(sub)

    def local(self) -> dict[str, Array]:
        """∂node/∂name for every name the node reads (reverse mode over the tree)."""
        values, constant = self.values, self.constant
        adjoint: dict[int, Any] = {id(self.node.tree): 1.0}
        found: dict[str, Array] = {}
        for sub in reversed(self.order):
            g = adjoint.pop(id(sub), None)
            if g is None or constant[id(sub)]:
                continue
            if isinstance(sub, Sym):
                found[sub.key] = found.get(sub.key, 0.0) + g
                continue
            for child, part in _partials(sub, [values[id(c)] for c in _children(sub)], values[id(sub)]):
                if not constant[id(child)]:
                    adjoint[id(child)] = adjoint.get(id(child), 0.0) + g * part
        return {name: np.broadcast_to(np.asarray(found.get(name, 0.0), dtype=np.float64), (self.size,)).copy()
                for name in self.node.uses}


def _children(node: Expr) -> tuple[Expr, ...]:
    if isinstance(node, (Add, Sub, Mul, Div, Parallel)):
        return (node.left, node.right)
    if isinstance(node, Pow):
        return (node.base, node.exponent)
    if isinstance(node, Neg):
        return (node.operand,)
    if isinstance(node, Call):
        return tuple(node.args)
    return ()


def _apply(node: Expr, args: list[Any], env: Mapping[str, Array]) -> Any:
    if isinstance(node, Num):
        return float(node.value)
    if isinstance(node, Sym):
        if node.key in env:
            return env[node.key]
        return float(CONSTANTS[node.key.lower()])        # e or pi (checked at load)
    if isinstance(node, Add):
        return args[0] + args[1]
    if isinstance(node, Sub):
        return args[0] - args[1]
    if isinstance(node, Mul):
        return args[0] * args[1]
    if isinstance(node, Div):
        return np.true_divide(args[0], args[1])
    if isinstance(node, Pow):
        return _power(args[0], args[1])
    if isinstance(node, Neg):
        return -args[0]
    if isinstance(node, Parallel):
        return 1.0 / (1.0 / args[0] + 1.0 / args[1])
    if isinstance(node, Call):
        result = function_table()[node.name].func(*args)
        if np.iscomplexobj(result):
            return np.full(np.shape(result), np.nan)       # outside the real domain: reported
        return result
    raise BpcalcError(f"a {type(node).__name__} cannot appear in a graph node")


def _power(base: Any, exponent: Any) -> Any:
    """Real powers only: a negative base takes an integer exponent (else NaN, reported)."""
    with np.errstate(all="ignore"):
        return np.power(np.asarray(base, dtype=np.float64), exponent)


def _partials(node: Expr, args: list[Any], value: Any) -> Iterator[tuple[Expr, Any]]:
    """(child, ∂node/∂child) for each child: the operators' rules, and each function's fdiff."""
    if isinstance(node, Add):
        yield node.left, 1.0
        yield node.right, 1.0
    elif isinstance(node, Sub):
        yield node.left, 1.0
        yield node.right, -1.0
    elif isinstance(node, Neg):
        yield node.operand, -1.0
    elif isinstance(node, Mul):
        yield node.left, args[1]
        yield node.right, args[0]
    elif isinstance(node, Div):
        yield node.left, 1.0 / args[1]
        yield node.right, -args[0] / args[1] ** 2
    elif isinstance(node, Pow):
        base, exponent = args
        yield node.base, exponent * _power(base, exponent - 1.0)
        yield node.exponent, value * np.log(np.asarray(base, dtype=np.float64))
    elif isinstance(node, Parallel):
        yield node.left, (value / args[0]) ** 2
        yield node.right, (value / args[1]) ** 2
    elif isinstance(node, Call):
        spec = function_table()[node.name]
        if spec.partial is not None:
            from .expr import evaluate

            env = {f"a{i}__": arg for i, arg in enumerate(args)}
            placeholders = tuple(Sym(f"a{i}__") for i in range(len(args)))
            if len(args) > 2:          # max(a, b, c): the gradient goes to the (first) extreme
                pick = np.argmax if node.name == "max" else np.argmin
                winner = pick(np.vstack(np.broadcast_arrays(*args)), axis=0)
                for i, child in enumerate(node.args):
                    yield child, (winner == i).astype(np.float64)
                return
            for i, child in enumerate(node.args):
                yield child, np.asarray(evaluate(spec.partial(placeholders, i), env), dtype=np.float64)
        else:
            yield node.args[0], _derivative(node.name)(args[0])


def _check_value(problem: GraphProblem, node: Node, trace: _Trace) -> None:
    """A node whose value is not a finite real number: say which operation failed, and where."""
    if np.all(np.isfinite(trace.value)):
        return
    for sub in trace.order:                       # the innermost failing operation comes first
        value = np.broadcast_to(trace.values[id(sub)], (trace.size,))
        if np.all(np.isfinite(value)):
            continue
        example = int(np.flatnonzero(~np.isfinite(value))[0])
        args = [np.broadcast_to(trace.values[id(c)], (trace.size,))[example] for c in _children(sub)]
        where = f" (example {example + 1})" if not problem.single else ""
        raise problem.error(("nodes", node.name), _domain_message(sub, args) + where)


def _domain_message(node: Expr, args: list[float]) -> str:
    from .expr import to_text

    shown = to_text(node)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    numbers = ", ".join(format_number(float(a), 6) for a in args)
    if isinstance(node, Div) and args[1] == 0:
        return f"division by zero in {shown}: the denominator is 0 at these numbers"
    if isinstance(node, Call) and node.name in ("ln", "log10", "log2") and args[0] <= 0:
        return f"{node.name} of {numbers} in {shown}: a logarithm needs a positive number"
    if isinstance(node, Call) and node.name == "sqrt" and args[0] < 0:
        return f"sqrt of {numbers} in {shown}: a square root needs a number ≥ 0"
    if isinstance(node, Pow) and args[0] < 0:
        return (f"{shown} is not a real number: a negative base ({format_number(args[0], 6)}) "
                f"with a non-integer exponent ({format_number(args[1], 6)})")
    if isinstance(node, Pow) and args[0] == 0 and args[1] < 0:
        return f"{shown}: 0 to a negative power is a division by zero"
    if all(math.isfinite(a) for a in args) and isinstance(node, (Call, Pow, Mul, Add, Sub)):
        if isinstance(node, Call) and np.isnan(_apply(node, list(args), {})):
            return f"{shown} is outside the domain of {node.name} at {numbers}"
        return f"{shown} overflows float64 at these numbers (its inputs: {numbers})"
    return f"{shown} is not a finite real number at these numbers"


# --------------------------------------------------------------------------- loading


def read_graph(validator: Any, document: Mapping[str, Any]) -> GraphProblem:
    """Validate a graph document (``validator`` is the problem loader's, for located errors)."""
    return _GraphReader(validator).problem(document)


class _GraphReader:
    def __init__(self, validator: Any) -> None:
        self.v = validator
        self._taken: list[str] = []          # leaf names so far

    def fail(self, path: Path, message: str) -> BpcalcError:
        return self.v.fail(path, message)

    def problem(self, document: Mapping[str, Any]) -> GraphProblem:
        from .problem import KEY

        doc = self.v.keys(document, (), GRAPH_KEYS, "a graph problem")
        for key in ("inputs", "parameters"):
            if doc.get(key) is None:
                doc[key] = {}
        shared = self.leaves(doc["inputs"], ("inputs",), "inputs")
        parameters = self.leaves(doc["parameters"], ("parameters",), "parameters")
        for name in parameters:
            if name in shared:
                raise self.fail(("parameters", name, KEY), f"{name!r} is also an input; a leaf is "
                                "either an input or a parameter")
        varying, examples = self.examples(doc, shared, parameters)
        size = len(examples) if examples else 1
        inputs: dict[str, Array] = {name: np.full(size, value) for name, value in shared.items()}
        for name in varying:
            inputs[name] = np.array([example[name] for example in examples], dtype=np.float64)
        nodes = self.nodes(doc["nodes"], list(inputs) + list(parameters))
        output = self.output(doc.get("output"), nodes, list(inputs) + list(parameters))
        reduction = doc.get("reduction", "mean")
        if isinstance(reduction, str):
            reduction = reduction.strip().lower()
        if reduction not in REDUCTIONS:
            from .problem import describe, did_you_mean

            raise self.fail(("reduction",), f"expected one of: {', '.join(REDUCTIONS)}; got "
                            f"{describe(reduction)}{did_you_mean(str(reduction), REDUCTIONS)}")
        rate = doc.get("learning_rate")
        if rate is not None:
            rate = self.v.number(rate, ("learning_rate",))
            if rate <= 0:
                raise self.fail(("learning_rate",), f"expected a positive number (η), got {rate:g}")
        expected = doc.get("expected") or {}
        if not isinstance(expected, Mapping):
            raise self.fail(("expected",), "expected a mapping from answer paths (like gradients.x) "
                            "to values")
        questions = doc.get("questions") or []
        if not isinstance(questions, list):
            raise self.fail(("questions",), "expected a list of questions")
        problem = GraphProblem(
            inputs=inputs, parameters=parameters, nodes=tuple(nodes), output=output,
            learning_rate=rate, reduction=reduction, examples=size, single=not examples,
            varying=frozenset(varying), title=self.v.text(doc, "title"),
            description=self.v.text(doc, "description"), expected=dict(expected),
            questions=tuple(questions), source=self.v.source, lines=dict(self.v.lines))
        if questions:
            import dataclasses

            from .grading import parse_questions

            problem = dataclasses.replace(problem, questions=parse_questions(problem, self.v))
        return problem

    def name(self, name: Any, path: Path, taken: Sequence[str]) -> str:
        from .problem import KEY, NAME_PATTERN, describe

        where = (*path, name, KEY) if isinstance(name, str) else path
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            hint = ""
            if isinstance(name, str) and ")" in name:
                hint = ("; in a {…} mapping a comma ends the entry: quote a formula that has one "
                        "(g: 'max(f, x)') or write one node per line")
            raise self.fail(where, f"expected a name (a letter, then letters, digits or _, such as "
                            f"h1_2), got {describe(name)}{hint}")
        if name.lower() in function_table():
            raise self.fail(where, f"{name!r} is a function of the formula language; name the "
                            f"value something else (e.g. {name}_out)")
        if name in taken:
            raise self.fail(where, f"the name {name!r} is defined twice")
        clash = [other for other in taken if other.lower() == name.lower()]
        if clash:
            raise self.fail(where, f"{name!r} and {clash[0]!r} differ only in case, which formulas "
                            "do not tell apart")
        return name

    def leaves(self, value: Any, path: Path, what: str) -> dict[str, float]:
        if not isinstance(value, Mapping):
            from .problem import describe

            raise self.fail(path, f"expected a mapping of names to numbers ({what}: {{x: 3, y: -4}}), "
                            f"got {describe(value)}")
        found: dict[str, float] = {}
        for name, number in value.items():
            self.name(name, path, list(found) + list(self._taken))
            found[name] = self.v.number(number, (*path, name))
        self._taken = [*self._taken, *found]
        return found

    def examples(self, doc: Mapping, shared: Mapping[str, float],
                 parameters: Mapping[str, float]) -> tuple[list[str], list[dict[str, float]]]:
        if "examples" not in doc:
            if "reduction" in doc:
                raise self.fail(("reduction",), "reduction applies to several examples; give "
                                "examples: [{inputs: {...}}, ...] or remove it")
            return [], []
        from .problem import describe

        raw = doc["examples"]
        if not isinstance(raw, list) or not raw:
            raise self.fail(("examples",), "expected a non-empty list of {inputs: {name: number}} "
                            f"mappings, got {describe(raw)}")
        rows: list[dict[str, float]] = []
        names: list[str] | None = None
        for i, example in enumerate(raw):
            entry = self.v.keys(example, ("examples", i), ("inputs",), "an example ({inputs: {...}})")
            if "inputs" not in entry:
                raise self.fail(("examples", i), "missing key 'inputs': the input values of this example")
            values = entry["inputs"]
            if not isinstance(values, Mapping) or not values:
                raise self.fail(("examples", i, "inputs"), "expected a mapping of input names to numbers")
            row: dict[str, float] = {}
            for name, number in values.items():
                from .problem import KEY

                if name in shared or name in parameters:
                    kind = "an input shared by every example" if name in shared else "a parameter"
                    raise self.fail(("examples", i, "inputs", name, KEY), f"{name!r} is {kind}; "
                                    "give it in one place")
                if names is None:
                    self.name(name, ("examples", i, "inputs"), [*row, *self._taken])
                elif name not in names:
                    raise self.fail(("examples", i, "inputs", name, KEY), f"{name!r} is not an input of "
                                    f"the first example (it has {', '.join(names)}); every example "
                                    "gives the same inputs")
                row[name] = self.v.number(number, ("examples", i, "inputs", name))
            if names is not None and len(row) != len(names):
                missing = next(n for n in names if n not in row)
                raise self.fail(("examples", i, "inputs"), f"missing input {missing!r} (the first example "
                                "gives it; every example gives the same inputs)")
            names = names or list(row)
            rows.append(row)
        self._taken = [*self._taken, *(names or [])]
        return names or [], rows

    def nodes(self, value: Any, leaves: list[str]) -> list[Node]:
        from .errors import FormulaError
        from .expr import symbols
        from .formula import parse
        from .problem import describe

        if not isinstance(value, Mapping) or not value:
            raise self.fail(("nodes",), "expected a mapping of node names to formulas, in order, "
                            f"e.g. nodes: {{q: x + y, f: q*z}}; got {describe(value)}")
        names: list[str] = []
        for name in value:
            self.name(name, ("nodes",), [*leaves, *names])
            names.append(name)
        everything = [*leaves, *names]
        position = {name: i for i, name in enumerate(names)}
        nodes: list[Node] = []
        for index, name in enumerate(names):
            raw = value[name]
            path: Path = ("nodes", name)
            if isinstance(raw, bool) or raw is None or not isinstance(raw, (str, int, float)):
                raise self.fail(path, f"expected a formula (text such as x + y), got {describe(raw)}")
            text = getattr(raw, "text", None) or str(raw)
            try:
                tree = parse(text, allowed=[*leaves, *names[:index]])
            except FormulaError as error:
                try:                          # a later name, or the node itself: said below
                    tree = parse(text, allowed=everything)
                except FormulaError:
                    tree = None
                if tree is None or not (set(symbols(tree)) & set(names[index:])):
                    if not leaves and not index:
                        raise self.fail(path, f"the formula {text!r} uses names that are not defined: "
                                        "give the leaves first, e.g. inputs: {x: 3, y: -4}") from None
                    raise self.fail(path, f"the formula {text!r} does not parse: {error}") from None
            uses = tuple(dict.fromkeys(key for key in _symbol_order(tree) if key in set(everything)))
            for used in uses:
                if used == name:
                    raise self.fail(path, f"{name} uses itself: a graph has no cycles (for a value "
                                    f"through time, name each step: {name}1, {name}2, …)")
                if used in position and position[used] > index:
                    later = value[used]
                    cycle = isinstance(later, str) and name in str(later)
                    raise self.fail(path, f"{name} uses {used!r}, which is defined later"
                                    + (" and uses it in turn (a cycle)" if cycle else "")
                                    + "; nodes may use only inputs, parameters and earlier nodes")
            for key in symbols(tree):
                if key not in everything and key.lower() in ("i", "j"):
                    raise self.fail(path, f"{key!r} is the imaginary unit here; graph values are real "
                                    "numbers (give a leaf named " + repr(key) + " to use it as a name)")
            self.differentiable(tree, path)
            nodes.append(Node(name, text, tree, uses))
        return nodes

    def differentiable(self, tree: Expr, path: Path) -> None:
        from .expr import nodes as subtrees

        for sub in subtrees(tree):
            if isinstance(sub, Call):
                spec = function_table()[sub.name]
                if sub.derivative:
                    raise self.fail(path, f"{sub.name}′ in a node: write the derivative as a formula, "
                                    "or let bpcalc take it")
                if spec.fdiff is None and spec.partial is None:
                    raise self.fail(path, f"{sub.name} has no derivative, so it cannot be part of a graph "
                                    "that is differentiated")

    def output(self, value: Any, nodes: Sequence[Node], leaves: Sequence[str]) -> str:
        if value is None:
            return nodes[-1].name
        names = [node.name for node in nodes]
        if isinstance(value, str) and value in names:
            return value
        from .problem import describe, did_you_mean

        if isinstance(value, str) and value in leaves:
            raise self.fail(("output",), f"{value!r} is a leaf; the output must be a node")
        raise self.fail(("output",), f"expected the name of a node, got {describe(value)}"
                        f"{did_you_mean(str(value), names)}; nodes: {', '.join(names[:12])}"
                        + (", …" if len(names) > 12 else ""))


def _symbol_order(tree: Expr) -> Iterator[str]:
    """Symbol keys in reading order (left to right), repeats included."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Sym):
            yield node.key
        stack.extend(reversed(_children(node)))
