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
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import BpcalcError
from .expr import (
    CONSTANTS,
    Add,
    Call,
    Div,
    Expr,
    Mul,
    Pow,
    Sub,
    Sym,
    _children,
    function_table,
)
from .graph_programs import Shape, evaluate_function, gradient, run, shape_of
from .numbers import format_number

Array = np.ndarray
Path = tuple[str | int, ...]

GRAPH_KEYS = ("title", "description", "inputs", "parameters", "nodes", "output", "learning_rate",
              "examples", "reduction", "expected", "questions", "train")
REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class Node:
    """One named stage: its formula as written, the names it reads, its compiled shape,
    and its tree (parsed on first use when the shape came from an earlier node's: a graph
    of 20,000 nodes repeating one formula parses it once)."""

    name: str
    text: str
    uses: tuple[str, ...]          # distinct names, in order of first use
    shape: Shape = field(repr=False, compare=False)      # compiled, for solving
    parsed: Expr | None = field(default=None, repr=False, compare=False)

    @property
    def tree(self) -> Expr:
        if self.parsed is None:
            from .formula import parse

            object.__setattr__(self, "parsed", parse(self.text))
        return self.parsed


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
    train: Any = None                      # bpcalc.training.TrainSettings, from ``train:``
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

    def gradients(self) -> dict[str, float | list[float]]:
        """∂/∂leaf of the (reduced) output; an input given per example keeps one per example."""
        return {name: (self._per_example(self.grads[name]) if name in self.problem.varying
                       else float(self._reduce(self.grads[name]))) for name in self.problem.leaves}

    def updated(self) -> dict[str, float]:
        """One SGD step, w ← w − η ∂f/∂w, for each parameter (empty without a learning rate)."""
        rate = self.problem.learning_rate
        if rate is None:
            return {}
        gradients = self.gradients()
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
            "gradients": self.gradients(),
            "updated": self.updated(),
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
    """Forward node by node, then the chain rule in reverse order, all examples at once.

    With one example the passes run on Python floats (an array of one costs ten times
    more per operation; a division by zero still gives inf, as NumPy's does), and
    everything is made an array of one at the end."""
    size = problem.examples
    scalar = size == 1
    env: dict[str, Any] = {name: (float(v[0]) if scalar else np.asarray(v, dtype=np.float64))
                           for name, v in problem.inputs.items()}
    env.update({name: (float(v) if scalar else np.full(size, float(v)))
                for name, v in problem.parameters.items()})
    with np.errstate(all="ignore"):
        tapes = forward_pass(problem, env)
        bad = _first_not_finite([env[node.name] for node in problem.nodes], scalar)
        if bad is not None:
            _check_value(problem, problem.nodes[bad], env)
        local: dict[tuple[str, str], Any] = {}
        grads = backward_pass(problem, env, tapes, local)
        keys = list(local)
        bad = _first_not_finite([local[key] for key in keys], scalar)
        if bad is not None:
            node, name = keys[bad]
            derivative = np.broadcast_to(local[keys[bad]], (size,))
            example = int(np.flatnonzero(~np.isfinite(derivative))[0])
            at = format_number(float(np.broadcast_to(env[name], (size,))[example]), 6)
            raise problem.error(("nodes", node), f"∂{node}/∂{name} is not finite at {name} = {at}"
                                + ("" if problem.single else f" (example {example + 1})")
                                + f": {problem.node(node).text} has no finite slope there")
        names = list(grads)
        bad = _first_not_finite([grads[name] for name in names], scalar)
        if bad is not None:
            name = names[bad]
            raise problem.error(_node_path(problem, name), f"the gradient ∂{problem.output}/∂{name} "
                                "overflows float64 (or is undefined) at these numbers")
    users: dict[str, list[str]] = {name: [] for name in env}
    for node in problem.nodes:
        for name in node.uses:
            users[name].append(node.name)
    return GraphSolution(problem, _arrays(env, size), _arrays(grads, size), _arrays(local, size),
                         {k: tuple(v) for k, v in users.items()})


def forward_pass(problem: GraphProblem, env: dict[str, Any]) -> list[list[Any]]:
    """Every node's value into ``env`` (which holds the leaves: floats, or arrays of one
    entry per example), in order; the tapes, for :func:`backward_pass`."""
    tapes: list[list[Any]] = []
    for node in problem.nodes:
        shape = node.shape
        tape = run(shape.program, [env[name] for name in shape.names], shape.numbers)
        env[node.name] = tape[shape.program.result]
        tapes.append(tape)
    return tapes


def backward_pass(problem: GraphProblem, env: Mapping[str, Any], tapes: list[list[Any]],
                  local: dict[tuple[str, str], Any] | None = None) -> dict[str, Any]:
    """∂output/∂name for every name of ``env``, by the chain rule in reverse node order;
    each local derivative ∂node/∂used goes into ``local`` when it is given."""
    grads: dict[str, Any] = dict.fromkeys(env, 0.0)
    grads[problem.output] = 1.0
    for node, tape in zip(reversed(problem.nodes), reversed(tapes)):
        outgoing = grads[node.name]
        for name, derivative in zip(node.shape.names, gradient(node.shape.program, tape)):
            if local is not None:
                local[(node.name, name)] = derivative
            grads[name] = grads[name] + outgoing * derivative
    return grads


def _first_not_finite(values: list[Any], scalar: bool) -> int | None:
    """The index of the first value (scalars, or arrays and scalars) that is not all finite."""
    if not values:
        return None
    if scalar:
        finite = np.isfinite(np.array(values, dtype=np.float64))
        return None if finite.all() else int(np.argmin(finite))
    return next((i for i, v in enumerate(values) if not np.all(np.isfinite(v))), None)


def _arrays(values: Mapping[Any, Any], size: int) -> dict[Any, Array]:
    """Every value as a float64 array of one entry per example."""
    if size == 1:                    # one array, and a view of one entry for each key
        column = np.array(list(values.values()), dtype=np.float64)
        return {key: column[i:i + 1] for i, key in enumerate(values)}
    result = {}
    for key, value in values.items():
        if not (isinstance(value, np.ndarray) and value.shape == (size,) and value.dtype == np.float64):
            value = np.broadcast_to(np.asarray(value, dtype=np.float64), (size,)).copy()
        result[key] = value
    return result


def _node_path(problem: GraphProblem, name: str) -> Path:
    if name in problem.parameters:
        return ("parameters", name)
    if name in problem.inputs:
        return ("inputs", name)
    return ("nodes", name)


def _check_value(problem: GraphProblem, node: Node, env: Mapping[str, Any]) -> None:
    """A node whose value is not a finite real number: say which operation failed, and where
    (the innermost one: its arguments are finite, its value is not)."""
    size = problem.examples
    failed: list[tuple[Expr, list[float], int]] = []

    def walk(sub: Expr) -> Any:                  # each subtree run as its own program
        args = [walk(child) for child in _children(sub)]
        shape = shape_of(sub, lambda key: None if key in env else float(CONSTANTS[key.lower()]))
        value = run(shape.program, [env[name] for name in shape.names], shape.numbers)[shape.program.result]
        values = np.broadcast_to(value, (size,))
        if not failed and not np.all(np.isfinite(values)):
            example = int(np.flatnonzero(~np.isfinite(values))[0])
            failed.append((sub, [float(np.broadcast_to(a, (size,))[example]) for a in args], example))
        return value

    with np.errstate(all="ignore"):
        walk(node.tree)
    if failed:
        sub, args, example = failed[0]
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
        if isinstance(node, Call) and np.isnan(evaluate_function(node.name, list(args))):
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
        self._folded: dict[str, str] = {}    # every name so far, by its case-folded form

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
        train = None
        if doc.get("train") is not None:
            from .training import read_settings

            train = read_settings(self.v, doc["train"], size)
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
            questions=tuple(questions), train=train, source=self.v.source, lines=dict(self.v.lines))
        if questions:
            import dataclasses

            from .grading import parse_questions

            problem = dataclasses.replace(problem, questions=parse_questions(problem, self.v))
        return problem

    def name(self, name: Any, path: Path) -> str:
        """A new leaf or node name, checked and registered (names are looked up by their
        case-folded form, so ``X`` next to ``x`` is refused rather than confused)."""
        from .problem import KEY, NAME_PATTERN, describe

        where = (*path, name, KEY) if isinstance(name, str) else path
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            hint = ""
            if isinstance(name, str) and ")" in name:
                hint = ("; in a {…} mapping a comma ends the entry: quote a formula that has one "
                        "(g: 'max(f, x)') or write one node per line")
            raise self.fail(where, f"expected a name (a letter, then letters, digits or _, such as "
                            f"h1_2), got {describe(name)}{hint}")
        folded = name.casefold()
        if folded in function_table():
            raise self.fail(where, f"{name!r} is a function of the formula language; name the "
                            f"value something else (e.g. {name}_out)")
        if folded in CONSTANTS and name != folded:
            raise self.fail(where, f"{name!r} would be read as the constant {folded}; write it as {folded!r}")
        if self._folded.get(folded) == name:
            raise self.fail(where, f"the name {name!r} is defined twice")
        if folded in self._folded:
            raise self.fail(where, f"{name!r} and {self._folded[folded]!r} differ only in case, which "
                            "formulas do not tell apart")
        self._folded[folded] = name
        return name

    def leaves(self, value: Any, path: Path, what: str) -> dict[str, float]:
        if not isinstance(value, Mapping):
            from .problem import describe

            raise self.fail(path, f"expected a mapping of names to numbers ({what}: {{x: 3, y: -4}}), "
                            f"got {describe(value)}")
        found: dict[str, float] = {}
        for name, number in value.items():
            self.name(name, path)
            found[name] = self.v.number(number, (*path, name))
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
                    self.name(name, ("examples", i, "inputs"))
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
        return names or [], rows

    def nodes(self, value: Any, leaves: list[str]) -> list[Node]:
        from .errors import FormulaError
        from .formula import parse
        from .problem import describe

        if not isinstance(value, Mapping) or not value:
            hint = ""
            if isinstance(value, list) and value and all(isinstance(v, Mapping) and len(v) == 1 for v in value):
                hint = " (remove the '- ' before each node: one NAME: formula per line)"
            raise self.fail(("nodes",), "expected a mapping of node names to formulas, in order, "
                            f"e.g. nodes: {{q: x + y, f: q*z}}; got {describe(value)}{hint}")
        position = {leaf: -1 for leaf in leaves}          # leaves come before every node
        names: list[str] = []
        for name in value:
            position[self.name(name, ("nodes",))] = len(names)
            names.append(name)
        nodes: list[Node] = []
        for index, name in enumerate(names):
            raw = value[name]
            path: Path = ("nodes", name)
            if isinstance(raw, bool) or raw is None or not isinstance(raw, (str, int, float)):
                raise self.fail(path, f"expected a formula (text such as x + y), got {describe(raw)}")
            text = getattr(raw, "text", None) or str(raw)
            quick = _token_shape(text, position)
            if quick is not None and quick[0] in _VALIDATED:        # this shape was read before
                key, names_read, numbers = quick
                for used in names_read:
                    self.in_order(name, used, index, position, value)
                distinct = tuple(dict.fromkeys(names_read))
                nodes.append(Node(name, text, distinct, Shape(_VALIDATED[key], distinct, numbers)))
                continue
            try:
                tree = parse(text)            # names are checked below, in one dict lookup each
            except FormulaError as error:
                raise self.fail(path, f"the formula {text!r} does not parse: {error}") from None
            uses: dict[str, None] = {}
            for key in _symbol_order(tree):
                if key not in position:
                    self.constant_or_unknown(key, text, path, [*leaves, *names[:index]])
                    continue
                self.in_order(name, key, index, position, value)
                uses[key] = None
            self.differentiable(tree, path)
            shape = shape_of(tree, lambda key: None if key in position else float(CONSTANTS[key]))
            if quick is not None and shape.names == tuple(dict.fromkeys(quick[1])) and shape.numbers == quick[2]:
                _VALIDATED[quick[0]] = shape.program
            nodes.append(Node(name, text, tuple(uses), shape, tree))
        return nodes

    def in_order(self, name: str, used: str, index: int, position: Mapping[str, int],
                 formulas: Mapping[str, Any]) -> None:
        """``used`` is a leaf or an earlier node (not ``name`` itself, not a later one)."""
        where = position[used]
        path: Path = ("nodes", name)
        if where == index:
            raise self.fail(path, f"{name} uses itself: a graph has no cycles (for a value "
                            f"through time, name each step: {name}1, {name}2, …)")
        if where > index:
            later = formulas[used]
            cycle = isinstance(later, str) and name in _names_in(later)
            raise self.fail(path, f"{name} uses {used!r}, which is defined later"
                            + (" and uses it in turn (a cycle)" if cycle else "")
                            + "; nodes may use only inputs, parameters and earlier nodes")

    def constant_or_unknown(self, key: str, text: str, path: Path, defined: list[str]) -> None:
        """A name no leaf or earlier node has: e and pi are constants; anything else is an error."""
        if key in ("e", "pi"):
            return
        if key in ("i", "j"):
            raise self.fail(path, f"{key!r} is the imaginary unit here; graph values are real "
                            f"numbers (give a leaf named {key!r} to use it as a name)")
        if not defined:
            raise self.fail(path, f"the formula {text!r} uses {key!r}, which is not defined: give the "
                            "leaves first, e.g. inputs: {x: 3, y: -4}")
        from .problem import did_you_mean

        shown = ", ".join(defined[:12]) + (", …" if len(defined) > 12 else "")
        raise self.fail(path, f"unknown name {key!r} in {text!r}{did_you_mean(key, defined)}; a node may "
                        f"use the inputs, the parameters and earlier nodes ({shown})")

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


_VALIDATED: dict[tuple, Any] = {}
"""Programs of token shapes already parsed and checked, by :func:`_token_shape` key."""


_SIMPLE = re.compile(r"[A-Za-z0-9_.+\-*/^(), ]*\Z")
_SCAN = re.compile(r" *(?:([A-Za-z][A-Za-z0-9_]*)|([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+)|(\*\*|[-+*/^(),]))")


def _token_shape(text: str, position: Mapping[str, int]) -> tuple[tuple, list[str], tuple[float, ...]] | None:
    """A formula's tokens with its names and numbers taken out (the key), the names in
    reading order, and the numbers. Only for plain formulas (names, numbers, + − * / ^,
    parentheses and commas; every name a leaf, a node or a function call); otherwise None,
    and the full parse reads it. Two formulas with one key parse to the same tree up to
    those names and numbers; a key is trusted only after a full parse agreed with it."""
    if "_(" in text or not _SIMPLE.match(text):
        return None
    parts = _SCAN.findall(text)
    if sum(len(a) + len(b) + len(c) for a, b, c in parts) != len(text) - text.count(" "):
        return None
    key: list[Any] = []
    names: list[str] = []
    slots: dict[str, int] = {}
    numbers: list[float] = []
    for i, (name, number, operator) in enumerate(parts):
        if name:
            if i + 1 < len(parts) and parts[i + 1][2] == "(":
                key.append(("f", name))
                continue
            if name not in position:
                return None
            names.append(name)
            key.append(slots.setdefault(name, len(slots)))
        elif number:
            numbers.append(float(number))
            key.append("#")
        else:
            key.append(operator)
    return tuple(key), names, tuple(numbers)


def _names_in(text: str) -> set[str]:
    import re

    return set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", text))


def _symbol_order(tree: Expr) -> Iterator[str]:
    """Symbol keys in reading order (left to right), repeats included."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Sym):
            yield node.key
        stack.extend(reversed(_children(node)))
