"""Pictures of solved problems: a small drawing model that DOT and Mermaid both print.

A picture is drawn after the backward pass, so every box carries the numbers a
student compares with their own: micrograd's ``draw_dot`` with names.

* A computation graph (:class:`bpcalc.graph.GraphSolution`): one box per leaf
  (input or parameter) and per node, each with its name, formula, value and
  gradient ∂out/∂name; an edge from each name a node reads to that node, labelled
  with the local derivative ∂node/∂name (the chain rule's factor along it).
* A layered network (:class:`bpcalc.solver.Solution`): the inputs x_k, one box per
  neuron with z, a and δ (and its bias with ∂C/∂b), an edge from neuron k of
  layer l−1 to neuron j of layer l labelled with w^l_jk and ∂C/∂w^l_jk, and the
  cost C. A network with a layer wider than :data:`MAX_NEURONS` is drawn with
  one box per layer, its shape and a summary of its numbers.

Several examples: per-example values (z, a, δ; a graph's values and gradients)
are shown as lists of :data:`MAX_LISTED` examples or fewer, else for the first
example, and the title says which; gradients of shared parameters are reduced
(mean or sum) over the examples, as SGD uses them.

This module is pure (no Click, no Rich); ``bpcalc.render.dot`` and
``bpcalc.render.mermaid`` print a :class:`Picture`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .numbers import counted, format_number

MAX_NEURONS = 5     # a wider layer (inputs included): one box per layer
MAX_LISTED = 3      # up to this many examples: every example's value, as a list
KINDS = ("input", "parameter", "node", "output", "neuron", "layer", "cost")


@dataclass(frozen=True)
class PicNode:
    """One box: ``id`` is unique in its picture; ``kind`` picks its shape and colour."""

    id: str
    label_lines: tuple[str, ...]
    kind: str


@dataclass(frozen=True)
class PicEdge:
    source: str
    target: str
    label_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cluster:
    """Boxes drawn together in a frame (a layer of neurons)."""

    id: str
    title: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Picture:
    title: str
    nodes: tuple[PicNode, ...]
    edges: tuple[PicEdge, ...]
    clusters: tuple[Cluster, ...] = ()
    direction: str = "LR"

    def node(self, id: str) -> PicNode:
        return next(node for node in self.nodes if node.id == id)

    def grouped(self) -> list[tuple[Cluster | None, list[PicNode]]]:
        """Each cluster with its boxes, then ``(None, boxes in no cluster)``: the order in
        which every renderer declares them."""
        by_id = {node.id: node for node in self.nodes}
        clustered = {member for cluster in self.clusters for member in cluster.members}
        groups: list[tuple[Cluster | None, list[PicNode]]] = [
            (cluster, [by_id[member] for member in cluster.members]) for cluster in self.clusters]
        groups.append((None, [node for node in self.nodes if node.id not in clustered]))
        return groups


def picture(solution: Any, digits: int = 4) -> Picture:
    """The picture of a solved problem, a computation graph or a layered network."""
    if getattr(solution, "kind", None) == "graph":
        return graph_picture(solution, digits)
    return layered_picture(solution, digits)


class _Shown:
    """How per-example numbers are written: every example (a list) or the first."""

    def __init__(self, examples: int, single: bool, digits: int) -> None:
        self.digits = digits
        self.listed = not single and examples <= MAX_LISTED
        self.first_only = not single and not self.listed
        self.examples = examples

    def number(self, value: float) -> str:
        return format_number(float(value), self.digits)

    def per_example(self, values: Sequence[float] | np.ndarray) -> str:
        values = np.asarray(values, dtype=np.float64).ravel()
        if self.listed:
            return "[" + ", ".join(self.number(v) for v in values) + "]"
        return self.number(values[0])

    def note(self) -> str:
        if self.listed:
            return f"per-example values listed for the {self.examples} examples"
        if self.first_only:
            return f"per-example values of example 1 of {self.examples}"
        return ""


def _title(title: str | None, default: str, *notes: str) -> str:
    notes = tuple(note for note in notes if note)
    return (title or default) + (f" ({'; '.join(notes)})" if notes else "")


# --------------------------------------------------------------------------- graphs


def graph_picture(solution: Any, digits: int = 4) -> Picture:
    """Every leaf and node with its value and ∂out/∂name; edges labelled ∂node/∂used."""
    problem = solution.problem
    out = problem.output
    shown = _Shown(problem.examples, problem.single, digits)
    gradients, updated = solution.gradients(), solution.updated()
    nodes: list[PicNode] = []
    for name in problem.leaves:
        kind = "parameter" if name in problem.parameters else "input"
        varying = name in getattr(problem, "varying", ())
        value = shown.per_example(solution.values[name]) if varying else shown.number(solution.values[name][0])
        gradient = gradients[name]
        grad = shown.per_example(gradient) if isinstance(gradient, list) else shown.number(gradient)
        lines = [f"{name} ({kind})", f"value = {value}", f"∂{out}/∂{name} = {grad}"]
        if name in updated:
            lines.append(f"new {name} = {shown.number(updated[name])}")
        nodes.append(PicNode(name, tuple(lines), kind))
    for node in problem.nodes:
        lines = [f"{node.name} = {node.text}" + (" (output)" if node.name == out else ""),
                 f"value = {shown.per_example(solution.values[node.name])}",
                 f"∂{out}/∂{node.name} = {shown.per_example(solution.grads[node.name])}"]
        nodes.append(PicNode(node.name, tuple(lines), "output" if node.name == out else "node"))
    edges = tuple(PicEdge(used, node.name,
                          (f"∂{node.name}/∂{used} = {shown.per_example(solution.local[(node.name, used)])}",))
                  for node in problem.nodes for used in node.uses)
    total = ""
    if not problem.single:
        total = f"{out} = {shown.number(solution.total)}, the {problem.reduction} over {problem.examples} examples"
    reduced = "" if problem.single or not (problem.parameters or len(problem.varying) < len(problem.inputs)) \
        else f"gradients of shared leaves are the {problem.reduction}"
    title = _title(problem.title, f"Computation graph of {out}", total, shown.note(), reduced)
    return Picture(title, tuple(nodes), edges)


# --------------------------------------------------------------------------- layered networks


def layered_picture(solution: Any, digits: int = 4, max_neurons: int = MAX_NEURONS) -> Picture:
    """Inputs, neurons (z, a, δ, bias) and weighted edges (w, ∂C/∂w), then the cost C;
    one box per layer when any layer is wider than ``max_neurons``."""
    problem = solution.problem
    widths = [problem.inputs.shape[1], *(layer.size for layer in problem.layers)]
    if max(widths) > max_neurons:
        return _layer_boxes(solution, digits)
    shown = _Shown(len(problem.inputs), problem.single, digits)
    rate = problem.learning_rate
    nodes: list[PicNode] = []
    edges: list[PicEdge] = []
    clusters: list[Cluster] = []
    previous = [f"x{k + 1}" for k in range(widths[0])]
    for k, id in enumerate(previous):
        nodes.append(PicNode(id, (f"x{k + 1} = {shown.per_example(problem.inputs[:, k])}",), "input"))
    clusters.append(Cluster("inputs", "input layer", tuple(previous)))
    for number, (layer, result) in enumerate(zip(problem.layers, solution.layers), start=1):
        ids = [f"L{number}_{j + 1}" for j in range(layer.size)]
        for j, id in enumerate(ids):
            lines = [f"neuron {j + 1} of layer {number}",
                     f"z = {shown.per_example(result.z[:, j])}",
                     f"a = {shown.per_example(result.a[:, j])}",
                     f"δ = {shown.per_example(result.delta[:, j])}"]
            if layer.bias is not None:
                name = layer.bias_names.name(j)
                lines.append(f"{name} = {shown.number(layer.bias[j])}, "
                             f"∂C/∂{name} = {shown.number(result.dC_db[j])}")
                if rate is not None:
                    lines.append(_new(name, result.b_updated[j], "bias" in layer.fixed, shown))
            nodes.append(PicNode(id, tuple(lines), "neuron"))
            for k, source in enumerate(previous):
                name = layer.weight_names.name(j, k)
                label = [f"{name} = {shown.number(layer.weights[j, k])}",
                         f"∂C/∂{name} = {shown.number(result.dC_dw[j, k])}"]
                if rate is not None:
                    label.append(_new(name, result.w_updated[j, k], "weights" in layer.fixed, shown))
                edges.append(PicEdge(source, id, tuple(label)))
        clusters.append(Cluster(f"layer{number}", f"layer {number}: {_activation(layer)}", tuple(ids)))
        previous = ids
    nodes.append(_cost_node(solution, shown))
    edges.extend(PicEdge(id, "cost") for id in previous)
    title = _title(problem.title, "Network", shown.note())
    return Picture(title, tuple(nodes), tuple(edges), tuple(clusters))


def _new(name: str, value: float, fixed: bool, shown: _Shown) -> str:
    return f"{name} fixed: not updated" if fixed else f"new {name} = {shown.number(value)}"


def _activation(layer: Any) -> str:
    params = ", ".join(f"{key} = {format_number(value, 6)}" for key, value in layer.params.items())
    return layer.activation.name + (f" ({params})" if params else "")


def _cost_node(solution: Any, shown: _Shown) -> PicNode:
    problem = solution.problem
    targets = problem.targets
    target = ", ".join(f"t{j + 1} = {shown.per_example(targets[:, j])}" for j in range(targets.shape[1])) \
        if targets.shape[1] <= MAX_NEURONS else f"targets: {targets.shape[1]} per example"
    lines = [f"C = {shown.number(solution.loss)}", f"loss: {problem.loss.name}", target]
    if not problem.single:
        lines.insert(1, f"the {problem.reduction} over {len(problem.inputs)} examples")
    return PicNode("cost", tuple(lines), "cost")


def _largest(values: np.ndarray) -> tuple[float, tuple[int, ...]]:
    """The entry of largest magnitude and where it is."""
    index = np.unravel_index(int(np.argmax(np.abs(values))), values.shape)
    return float(values[index]), tuple(int(i) for i in index)


def _range(values: np.ndarray, shown: _Shown) -> str:
    return f"{shown.number(values.min())} … {shown.number(values.max())}"


def _layer_boxes(solution: Any, digits: int) -> Picture:
    """One box per layer: its size and activation, the range of z and a, the largest |δ|
    and |∂C/∂b|; one edge per weight matrix: its shape and the largest |∂C/∂w|."""
    problem = solution.problem
    single = problem.single
    shown = _Shown(len(problem.inputs), True, digits)      # numbers only; ranges cover all examples
    width = problem.inputs.shape[1]
    nodes = [PicNode("inputs", (f"input: {width} values", f"x: {_range(problem.inputs, shown)}"), "input")]
    edges: list[PicEdge] = []
    previous = "inputs"
    for number, (layer, result) in enumerate(zip(problem.layers, solution.layers), start=1):
        id = f"layer{number}"
        delta, at = _largest(result.delta)
        where = f"neuron {at[1] + 1}" + ("" if single else f", example {at[0] + 1}")
        lines = [f"layer {number}: {counted(layer.size, 'neuron')}, {_activation(layer)}",
                 f"z: {_range(result.z, shown)}", f"a: {_range(result.a, shown)}",
                 f"largest |δ|: δ = {shown.number(delta)} ({where})"]
        if layer.bias is not None:
            gradient, (j,) = _largest(result.dC_db)
            lines.append(f"b{_superscript(number)}: {counted(layer.size, 'bias')}, largest |∂C/∂b|: "
                         f"∂C/∂{layer.bias_names.name(j)} = {shown.number(gradient)}")
        nodes.append(PicNode(id, tuple(lines), "layer"))
        gradient, (j, k) = _largest(result.dC_dw)
        rows, columns = layer.weights.shape
        edges.append(PicEdge(previous, id, (
            f"w{_superscript(number)} {rows}×{columns}",
            f"w: {_range(layer.weights, shown)}",
            f"largest |∂C/∂w|: ∂C/∂{layer.weight_names.name(j, k)} = {shown.number(gradient)}")))
        previous = id
    nodes.append(_cost_node(solution, _Shown(len(problem.inputs), single, digits)))
    edges.append(PicEdge(previous, "cost"))
    notes = [f"one box per layer: a layer has more than {MAX_NEURONS} neurons"]
    if not single:
        notes.append(f"ranges over the {len(problem.inputs)} examples")
    return Picture(_title(problem.title, "Network", *notes), tuple(nodes), tuple(edges))


def _superscript(number: int) -> str:
    return str(number).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
