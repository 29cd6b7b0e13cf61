"""The derivation of a computation graph: forward node by node, then backward in reverse.

Each node's local derivatives ∂m/∂u are derived symbolically from its own expression
tree (:func:`bpcalc.calculus.d`: ∂f/∂num = 1/den, ∂f/∂den = −num/den²), then evaluated
with the numbers of the forward pass. A node's gradient is the chain rule summed over
the nodes that use it, ∂f/∂n = Σ_m ∂f/∂m·∂m/∂n; where a value fans out (or a weight is
shared across time steps) each use's contribution is a step of its own, so a student
sees which path they left out. ``--param`` writes out every path from one value to the
output as a product of local derivatives.

Notation: ∂m/∂u for a node m and a name u it uses is the *local* derivative (m's formula
differentiated with its other inputs held fixed); ∂f/∂n, with f the output, is the
gradient. Where the output uses a value directly and the value also reaches it through
other nodes, the output's local derivative is written as its formula, so the two
meanings of ∂f/∂n never meet in one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import BpcalcError
from ..expr import Add, Div, Expr, Mul, Num, Partial, Sub, Sym
from ..numbers import format_number
from .model import DEFAULT_DIGITS, Derivation, Math, Prose, equation
from .steps import StepBuilder, fold

ETA = Sym("eta")
MAX_PATHS = 24              # paths written out one by one for --param
MAX_TERMS = 12              # examples written out in a mean


class GraphBuilder(StepBuilder):
    """Builds the steps of a graph's derivation, remembering what a student knows."""

    def __init__(self, problem: Any, solution: Any, digits: int) -> None:
        super().__init__(digits)
        self.p, self.s = problem, solution
        self.out = problem.output
        self.multi = not problem.single
        self.nodes = {node.name: node for node in problem.nodes}
        self.values: dict[str, float] = {}                 # names -> value, this example
        self.partials: dict[tuple[str, str], float] = {}   # (of, wrt) -> value, this example
        self.other: dict[Expr, Any] = {}                   # anything else known (η, per-example gradients)
        self.contributions: dict[Expr, float] = {}         # a use's term of a sum, this example
        self.forms: dict[tuple[str, str], Expr | None] = {}
        if problem.learning_rate is not None:
            self.other[ETA] = problem.learning_rate
        reaches = {self.out}
        for node in reversed(problem.nodes):               # the names the output depends on
            if node.name in reaches:
                reaches.update(node.uses)
        self.reaches = reaches

    # -- knowledge ------------------------------------------------------------------------
    def lookup(self, node: Expr) -> Any:
        if type(node) is Sym and node.sub is None and node.sup is None and node.name in self.values:
            return self.values[node.name]
        if type(node) is Partial and _plain(node.of) and _plain(node.wrt):
            return self.partials.get((node.of.name, node.wrt.name))
        if node in self.contributions:
            return self.contributions[node]
        return self.other.get(node)

    def learn(self, lhs: Expr, value: Any, everywhere: bool = False) -> None:
        if value is None:
            return
        if type(lhs) is Partial and _plain(lhs.of) and _plain(lhs.wrt) and not everywhere:
            self.partials[(lhs.of.name, lhs.wrt.name)] = float(value)
        elif type(lhs) is Sym and _plain(lhs) and not everywhere:
            self.values[lhs.name] = float(value)
        else:
            self.other[lhs] = value

    def start_example(self, x: int) -> None:
        self.values = {name: float(self.s.values[name][x]) for name in self.p.leaves}
        self.partials, self.contributions = {}, {}

    def key(self, path: str, x: int, per_example: bool = True) -> str:
        return f"{path}[{x}]" if self.multi and per_example else path

    def ex(self, x: int) -> int | None:
        return x if self.multi else None

    def section_name(self, name: str, x: int) -> str:
        return f"{name}, example {x + 1}" if self.multi else name

    # -- forward ----------------------------------------------------------------------------
    def forward(self, x: int) -> None:
        self.begin(self.section_name("Forward pass", x))
        note = self.once("forward", ("each node is computed from values already known, in the order "
                                     "the problem gives",))
        for node in self.p.nodes:
            self.add(node.name, Sym(node.name), node.tree, self.s.values[node.name][x], "forward",
                     key=self.key(f"nodes.{node.name}.value", x), example=self.ex(x), note=note)
            note = None

    # -- backward ---------------------------------------------------------------------------
    def local_form(self, node: str, name: str) -> Expr | None:
        """∂node/∂name from the node's tree (None when it cannot be differentiated symbolically)."""
        if (node, name) not in self.forms:
            from ..calculus import d, replace

            tree = self.nodes[node].tree
            try:            # σ′ of sigy = σ(y) reads sigy·(1 − sigy): the node's own value, known
                self.forms[(node, name)] = replace(d(tree, name), {tree: Sym(node)})
            except BpcalcError:
                self.forms[(node, name)] = None
        return self.forms[(node, name)]

    def inline(self, node: str, name: str) -> bool:
        """The output's local derivative would read like the gradient of a value that also
        reaches the output another way: write it as its formula instead."""
        return node == self.out and len(self.users(name)) > 1

    def users(self, name: str) -> list[str]:
        """The nodes that use ``name`` and lead to the output."""
        return [m for m in self.s.users.get(name, ()) if m in self.reaches]

    def local(self, node: str, name: str, x: int) -> None:
        if self.inline(node, name):
            return
        value = self.s.local[(node, name)][x]
        sole = self.users(name) == [node] and node == self.out
        key = self.gradient_key(name, x) if sole else None
        title = (f"gradient of {name}, the local derivative of the output" if sole else
                 f"local derivative of {node} with respect to {name}")
        note = self.once("local", (
            "each node's local derivatives come from its own formula, the other inputs held fixed",))
        self.add(title, Partial(Sym(node), Sym(name)), self.local_form(node, name), value,
                 "local derivative", key=key, example=self.ex(x), note=note)

    def gradient_key(self, name: str, x: int) -> str | None:
        if name in self.nodes:
            return self.key(f"nodes.{name}.grad", x)
        if self.multi and name not in self.p.varying:
            return None                                     # combined over the examples below
        return self.key(f"gradients.{name}", x)

    def term(self, user: str, name: str) -> Expr:
        """One use's contribution to ∂f/∂name: ∂f/∂user·∂user/∂name."""
        if self.inline(user, name):
            form = self.local_form(user, name)
            return form if form is not None else Partial(Sym(user), Sym(name))
        if user == self.out:
            return Partial(Sym(user), Sym(name))
        return Mul(Partial(Sym(self.out), Sym(user)), Partial(Sym(user), Sym(name)))

    def gradient(self, name: str, x: int) -> None:
        """∂f/∂name as the sum over its uses, each use's term first where it fans out."""
        users = self.users(name)
        out = Sym(self.out)
        lhs = Partial(out, Sym(name))
        value = self.s.grads[name][x]
        key = self.gradient_key(name, x)
        if not users:
            self.add(f"gradient of {name}", lhs, None, value, "chain rule", key=key, example=self.ex(x),
                     note=(f"{name} does not reach {self.out}: no node on the way to {self.out} uses it",))
            return
        if users == [self.out] and not self.inline(self.out, name):
            return                      # its gradient is the output's local derivative, shown with it
        terms = [self.term(user, name) for user in users]
        if len(users) > 1:
            shared = name in self.p.parameters
            for user, term in zip(users, terms):
                contribution = float(self.s.contribution(user, name)[x])
                title = f"{name} through {user}" + (" (used directly)" if self.inline(user, name) else "")
                self.add(title, term, term, contribution, "chain rule", example=self.ex(x), remember=False)
                self.contributions[term] = contribution
            what = (f"{name} is shared: {', '.join(users)} all use it, so its gradient adds the "
                    "contributions of every use (every time step, in an unrolled recurrent network)"
                    if shared else
                    f"{name} fans out to {', '.join(users)}: its gradient is the sum of the gradients "
                    "through each use")
            self.add(f"gradient of {name}: the sum over its {len(users)} uses", lhs, fold(Add, terms),
                     value, "chain rule", key=key, example=self.ex(x), note=(what,))
            return
        note = self.once("chain", ("the chain rule: a node's gradient is the gradient of the node that "
                                   "uses it times that node's local derivative, ",
                                   equation(Partial(out, Sym("n")),
                                            Mul(Partial(out, Sym("m")), Partial(Sym("m"), Sym("n"))))))
        self.add(f"gradient of {name}", lhs, terms[0], value, "chain rule", key=key, example=self.ex(x),
                 note=note)

    def backward(self, x: int) -> None:
        self.begin(self.section_name("Backward pass", x))
        out = Sym(self.out)
        self.add(f"start at the output {self.out}", Partial(out, out), None, 1.0, "start",
                 example=self.ex(x), key=self.key(f"nodes.{self.out}.grad", x),
                 note=("the backward pass visits the nodes in reverse order, starting from ",
                       equation(Partial(out, out), Num(1))))
        order = [node for node in self.p.nodes if node.name in self.reaches]
        for node in reversed(order):
            if node.name != self.out:
                self.gradient(node.name, x)
            for name in node.uses:
                self.local(node.name, name, x)
        for name in self.p.leaves:
            if name in self.reaches:
                self.gradient(name, x)

    # -- several examples, and the update ----------------------------------------------------
    def combine(self, names: Sequence[str]) -> None:
        n, mean = self.p.examples, self.p.reduction == "mean"
        self.begin(f"Gradients over the {n} examples ({self.p.reduction})")
        note = self.once("combine", (f"the objective is the {self.p.reduction} of {self.out} over the "
                                     f"examples, so each gradient is the {self.p.reduction} of the "
                                     f"per-example ones ({self.out} with index x is example x's)",))
        for name in names:
            if name in self.p.varying:
                continue
            per_example = [Partial(Sym(self.out, sub=str(x + 1)), Sym(name)) for x in range(n)]
            for x, symbol in enumerate(per_example):
                self.other[symbol] = float(self.s.grads[name][x])
            general = None
            if n <= MAX_TERMS:
                general = fold(Add, per_example)
                general = Div(general, Num(n)) if mean else general
            self.add(f"gradient of {name}", Partial(Sym(self.out), Sym(name)), general,
                     self.s.gradients()[name], self.p.reduction, key=f"gradients.{name}", note=note,
                     everywhere=True)
            note = None

    def updates(self, names: Sequence[str]) -> None:
        rate = self.p.learning_rate
        if rate is None or not names:
            return
        self.begin("SGD update")
        out = Sym(self.out)
        note = self.once("SGD", ("gradient descent moves every parameter against its gradient, ",
                                 equation(Sym("w"), Sub(Sym("w"), Mul(ETA, Partial(out, Sym("w")))),
                                          relations=("←",)),
                                 f", with the learning rate η = {format_number(rate, self.digits)}"))
        for name in names:
            old, new = self.p.parameters[name], self.s.updated()[name]
            self.values[name] = float(old)
            self.partials[(self.out, name)] = float(self.s.gradients()[name])   # over every example
            self.add(f"SGD update of {name}", Sym(name), Sub(Sym(name), Mul(ETA, Partial(out, Sym(name)))),
                     new, "SGD", relation="←", key=f"updated.{name}", note=note,
                     digits=self.update_digits(old, new), remember=False)
            note = None

    # -- one value's paths (--param) ----------------------------------------------------------
    def paths(self, name: str) -> list[list[str]]:
        """Every path name → … → output, through nodes that lead to the output."""
        found: list[list[str]] = []

        def walk(path: list[str]) -> None:
            if len(found) > MAX_PATHS:
                return
            last = path[-1]
            if last == self.out:
                found.append(path)
                return
            for user in self.users(last):
                walk([*path, user])

        walk([name])
        return found

    def chain(self, name: str, x: int) -> None:
        """∂f/∂name written out path by path: each path a product of local derivatives."""
        paths = self.paths(name)
        self.begin(self.section_name(f"Paths from {name} to {self.out}", x))
        out = Sym(self.out)
        if name == self.out:
            self.add(f"the output {name}", Partial(out, out), None, 1.0, "start",
                     key=self.key(f"nodes.{name}.grad", x), example=self.ex(x),
                     note=("the gradient of the output with respect to itself is 1",))
            return
        if not paths:
            self.add(f"gradient of {name}", Partial(out, Sym(name)), None, self.s.grads[name][x], "chain rule",
                     key=self.gradient_key(name, x), example=self.ex(x),
                     note=(f"{name} does not reach {self.out}, so its gradient is 0",))
            return
        if len(paths) > MAX_PATHS:
            self.begin(self.section_name(f"Backward pass from {self.out} to {name}", x))
            between = self.between(name)
            out_sym = Sym(self.out)
            self.add(f"start at the output {self.out}", Partial(out_sym, out_sym), None, 1.0, "start",
                     example=self.ex(x), note=(f"{name} reaches {self.out} by more than {MAX_PATHS} paths: "
                                               "they are added up node by node instead, in reverse order",))
            for node in reversed(self.p.nodes):
                if node.name not in between:
                    continue
                if node.name != self.out:
                    self.gradient(node.name, x)
                for used in node.uses:
                    if used in between or used == name:
                        self.local(node.name, used, x)
            self.gradient(name, x)
            return
        edges = list(dict.fromkeys((path[i + 1], path[i]) for path in paths for i in range(len(path) - 1)))
        note = self.once("local", (
            "each node's local derivatives come from its own formula, the other inputs held fixed",))
        for node, used in sorted(edges, key=lambda e: -self.position(e[0])):
            value = self.s.local[(node, used)][x]
            self.add(f"local derivative of {node} with respect to {used}", Partial(Sym(node), Sym(used)),
                     self.local_form(node, used), value, "local derivative", example=self.ex(x), note=note)
            note = None
        products = []
        for path in paths:
            factors = [Partial(Sym(path[i + 1]), Sym(path[i])) for i in reversed(range(len(path) - 1))]
            product = fold(Mul, factors)
            value = float(np.prod([self.s.local[(path[i + 1], path[i])][x] for i in range(len(path) - 1)]))
            self.add("path " + " → ".join(path), product, product, value, "chain rule", example=self.ex(x),
                     remember=False, note=self.once("paths", (
                         "along one path the chain rule multiplies the local derivatives; the gradient "
                         "adds up the paths",)))
            self.contributions[product] = value
            products.append(product)
        self.add(f"gradient of {name}: the sum over {len(paths)} path{'s' if len(paths) > 1 else ''}",
                 Partial(out, Sym(name)), fold(Add, products), self.s.grads[name][x], "chain rule",
                 key=self.gradient_key(name, x), example=self.ex(x))

    def between(self, name: str) -> set[str]:
        """The nodes on some path from ``name`` to the output."""
        after = {name}
        for node in self.p.nodes:
            if any(used in after for used in node.uses):
                after.add(node.name)
        return after & self.reaches

    def position(self, node: str) -> int:
        return next(i for i, n in enumerate(self.p.nodes) if n.name == node)


def _plain(node: Expr) -> bool:
    return type(node) is Sym and node.sub is None and node.sup is None


def derive_graph(problem: Any, solution: Any, *, param: str | None = None,
                 digits: int = DEFAULT_DIGITS) -> Derivation:
    """The derivation of a solved computation graph (or of one value's paths, ``param``)."""
    builder = GraphBuilder(problem, solution, digits)
    title = problem.title or problem.source or "Computation graph"
    if param is not None:
        _known_name(problem, param)
        for x in range(problem.examples):
            builder.start_example(x)
            builder.forward(x)
            builder.chain(param, x)
        if param in problem.parameters or (param in problem.inputs and param not in problem.varying):
            if builder.multi:
                builder.combine([param])
            if param in problem.parameters:
                builder.updates([param])
        return builder.derivation(f"{title}: ∂{problem.output}/∂{param}", graph_intro(problem, digits),
                                  param, ())
    if len(problem.nodes) * problem.examples > 4000:
        raise BpcalcError(f"{problem.source or '<problem>'}: written out node by node this derivation "
                          f"would have more than {4000:,} steps; use --param NAME for the paths of one value")
    for x in range(problem.examples):
        builder.start_example(x)
        builder.forward(x)
        builder.backward(x)
    leaves = [name for name in problem.leaves if name in builder.reaches]
    if builder.multi:
        builder.combine(leaves)
    builder.updates([name for name in problem.parameters if name in builder.reaches])
    return builder.derivation(title, graph_intro(problem, digits), None, ())


def _known_name(problem: Any, name: str) -> None:
    from ..problem import did_you_mean

    names = [*problem.leaves, *(node.name for node in problem.nodes)]
    if name not in names:
        shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
        raise BpcalcError(f"{problem.source or '<problem>'}: no value named {name!r}{did_you_mean(name, names)}; "
                          f"the inputs, parameters and nodes are: {shown}")


def graph_intro(problem: Any, digits: int) -> tuple[Prose, ...]:
    out = Sym(problem.output)
    lines: list[Prose] = [(
        "A computation graph: each node is a formula of the inputs, the parameters and earlier nodes. "
        "The forward pass computes the nodes in order; the backward pass visits them in reverse and "
        "applies the chain rule. ", Math((Partial(Sym("m"), Sym("u")),)),
        " is the local derivative of node m with respect to a value u it uses (its other inputs held "
        "fixed), and ", Math((Partial(out, Sym("n")),)), f" is the gradient of the output {problem.output}.",
    )]
    lines.append((f"Numbers are shown to {digits} significant digits, and redoing a step by hand with "
                  "the numbers it shows gives its result to the last digit shown; ≈ marks a rounded result.",))
    if not problem.single:
        lines.append((f"{problem.examples} examples: both passes are done for each example; the gradients "
                      f"of the parameters are the {problem.reduction} of the per-example gradients.",))
    if problem.learning_rate is None and problem.parameters:
        lines.append(("The problem gives no learning_rate, so there is no SGD update.",))
    return tuple(lines)

