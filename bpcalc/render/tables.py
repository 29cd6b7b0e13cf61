"""Solutions as plain tables: one model that the terminal and Markdown renderers share.

Building the rows once keeps the Rich tables and the Markdown tables the same
table, and keeps number formatting in one place (:func:`bpcalc.numbers.format_number`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..numbers import format_number
from ..solver import Solution

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUBSCRIPTS = str.maketrans("0123456789,", "₀₁₂₃₄₅₆₇₈₉,")


@dataclass(frozen=True)
class Table:
    """A titled grid of strings; ``numeric`` columns are right-aligned."""

    title: str
    headers: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    section_ends: set[int] = field(default_factory=set)   # row indices followed by a rule
    note: str | None = None


def indexed(letter: str, layer: int, *indices: int) -> str:
    """Nielsen's indexed symbol, e.g. w²₁₂ for layer 2, j = 1, k = 2 (1-based)."""
    sub = ("," if any(i > 9 for i in indices) else "").join(str(i) for i in indices)
    return f"{letter}{str(layer).translate(_SUPERSCRIPTS)}{sub.translate(_SUBSCRIPTS)}"


def solution_tables(solution: Solution, digits: int) -> list[Table]:
    """Forward pass, error terms, gradients and the SGD update, in that order."""
    return [forward_table(solution, digits), error_table(solution, digits),
            gradient_table(solution, digits), update_table(solution, digits)]


def _example_prefix(solution: Solution, example: int, first: bool) -> tuple[str, ...]:
    """The Example column: the example's number on its first row, blank below."""
    if solution.problem.single:
        return ()
    return (str(example + 1) if first else "",)


def forward_table(solution: Solution, digits: int) -> Table:
    problem = solution.problem
    lead = () if problem.single else ("Example",)
    loss = f"C = {format_number(solution.loss, digits)} ({problem.loss.name}"
    loss += f", {problem.reduction} over {len(problem.inputs)} examples)" if not problem.single else ")"
    table = Table("Forward pass: z^l = w^l a^(l-1) + b^l, a^l = f(z^l)",
                  (*lead, "Layer", "j", "z", "a"), (*(False,) * len(lead), False, True, True, True),
                  note=loss)
    for example in range(len(problem.inputs)):
        for j, value in enumerate(problem.inputs[example]):
            table.rows.append((*_example_prefix(solution, example, j == 0), "0 (input)" if j == 0 else "", str(j + 1), "",
                               format_number(value, digits)))
        table.section_ends.add(len(table.rows) - 1)
        for number, (layer, result) in enumerate(zip(problem.layers, solution.layers), start=1):
            for j in range(layer.size):
                label = f"{number} ({layer.activation.name})" if j == 0 else ""
                table.rows.append((*_example_prefix(solution, example, False), label, str(j + 1),
                                   format_number(result.z[example, j], digits),
                                   format_number(result.a[example, j], digits)))
            table.section_ends.add(len(table.rows) - 1)
    return table


def error_table(solution: Solution, digits: int) -> Table:
    problem = solution.problem
    lead = () if problem.single else ("Example",)
    output = problem.layers[-1].activation
    fused = problem.loss.fused.get(output.name)
    note = (f"Here {fused.rule}." if fused else
            "Softmax couples its outputs: BP1 uses its full Jacobian, δ^L = J(z^L)ᵀ ∇aC."
            if not output.elementwise else None)
    table = Table("Error terms: δ^L = ∇aC ⊙ f′(z^L), δ^l = ((w^(l+1))ᵀ δ^(l+1)) ⊙ f′(z^l)",
                  (*lead, "Layer", "j", "δ"), (*(False,) * len(lead), False, True, True), note=note)
    for example in range(len(problem.inputs)):
        for number in range(len(problem.layers), 0, -1):
            result = solution.layers[number - 1]
            for j in range(result.delta.shape[1]):
                label = f"{number}" + (" (output)" if number == len(problem.layers) else "")
                first = number == len(problem.layers) and j == 0
                table.rows.append((*_example_prefix(solution, example, first), label if j == 0 else "", str(j + 1),
                                   format_number(result.delta[example, j], digits)))
            table.section_ends.add(len(table.rows) - 1)
    return table


def gradient_table(solution: Solution, digits: int) -> Table:
    problem = solution.problem
    note = None if problem.single else f"The {problem.reduction} over the {len(problem.inputs)} examples."
    table = Table("Gradients: ∂C/∂b^l_j = δ^l_j, ∂C/∂w^l_jk = a^(l-1)_k δ^l_j",
                  ("Parameter", "Indexed", "Value", "∂C/∂parameter"), (False, False, True, True),
                  note=note)
    last_layer = 1
    for parameter in solution.parameters():
        if parameter.layer != last_layer:
            table.section_ends.add(len(table.rows) - 1)
            last_layer = parameter.layer
        symbol = indexed("w" if parameter.kind == "weights" else "b", parameter.layer,
                         *(i + 1 for i in parameter.index))
        table.rows.append((parameter.name, symbol, format_number(parameter.value, digits),
                           format_number(parameter.gradient, digits)))
    return table


def update_table(solution: Solution, digits: int) -> Table:
    rate = solution.problem.learning_rate
    if rate is None:
        return Table("SGD update", ("Parameter",), (False,),
                     note="The problem gives no learning_rate, so there is no update to show: "
                          "add e.g. 'learning_rate: 0.1'.")
    table = Table(f"SGD update: new = old − η·∂C/∂parameter, η = {format_number(rate, digits)}",
                  ("Parameter", "Old", "∂C/∂parameter", "New"), (False, True, True, True))
    last_layer = 1
    for parameter in solution.parameters():
        if parameter.layer != last_layer:
            table.section_ends.add(len(table.rows) - 1)
            last_layer = parameter.layer
        new = format_number(parameter.updated, digits) + (" (fixed)" if parameter.fixed else "")
        table.rows.append((parameter.name, format_number(parameter.value, digits),
                           format_number(parameter.gradient, digits), new))
    return table


# --------------------------------------------------------------------------- computation graphs


def graph_tables(solution: Any, digits: int) -> list[Table]:
    """A computation graph: every node (formula, value, ∂out/∂node), then the leaves'
    gradients and the SGD update (:class:`bpcalc.graph.GraphSolution`)."""
    return [graph_node_table(solution, digits), graph_leaf_table(solution, digits)]


def graph_node_table(solution: Any, digits: int) -> Table:
    problem = solution.problem
    out = problem.output
    lead = () if problem.single else ("Example",)
    note = (f"{out} = {format_number(solution.total, digits)} ({problem.reduction} over "
            f"{problem.examples} examples); ∂{out}/∂node is per example." if not problem.single else None)
    table = Table(f"Nodes, in order: value forward, ∂{out}/∂node backward",
                  (*lead, "Node", "Formula", "Value", f"∂{out}/∂node"),
                  (*(False,) * len(lead), False, False, True, True), note=note)
    for example in range(problem.examples):
        for i, node in enumerate(problem.nodes):
            prefix = () if problem.single else (str(example + 1) if i == 0 else "",)
            name = node.name + (" (output)" if node.name == out else "")
            table.rows.append((*prefix, name, node.text,
                               format_number(float(solution.values[node.name][example]), digits),
                               format_number(float(solution.grads[node.name][example]), digits)))
        table.section_ends.add(len(table.rows) - 1)
    return table


def graph_leaf_table(solution: Any, digits: int) -> Table:
    problem = solution.problem
    out = problem.output
    rate = problem.learning_rate
    update = rate is not None and bool(problem.parameters)
    headers = ("Leaf", "Kind", "Value", f"∂{out}/∂leaf", *(("New",) if update else ()))
    title = "Gradients of the inputs and parameters" + (", and the SGD update" if update else "")
    notes = []
    if update:
        notes.append(f"New = old − η·∂{out}/∂parameter, η = {format_number(rate, digits)}.")
    if not problem.single:
        notes.append(f"The {problem.reduction} over the {problem.examples} examples; an input "
                     "given per example has one each.")
    if rate is None and problem.parameters:
        notes.append("The problem gives no learning_rate, so there is no update: add e.g. 'learning_rate: 0.1'.")
    table = Table(title, headers, (False, False, True, True, *((True,) if update else ())),
                  note="\n".join(notes) or None)          # a line each: 80 columns
    gradients, updated = solution.gradients(), solution.updated()
    document = solution.to_dict()
    for name in problem.leaves:
        kind = "parameter" if name in problem.parameters else "input"
        value, gradient = document["parameters" if kind == "parameter" else "inputs"][name], gradients[name]
        shown = [", ".join(format_number(v, digits) for v in x) if isinstance(x, list) else format_number(x, digits)
                 for x in (value, gradient)]
        new = (format_number(updated[name], digits) if name in updated else "",) if update else ()
        table.rows.append((name, kind, *shown, *new))
    return table
