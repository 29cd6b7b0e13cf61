"""Forward and backward passes: a Problem in, every z, a, δ and gradient out.

The code follows Nielsen's four equations, each in one place:

    forward   z^l = w^l a^{l−1} + b^l,  a^l = f(z^l)
    BP1       δ^L = ∇_a C ⊙ f′(z^L)          (a Jacobian product for softmax)
    BP2       δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ f′(z^l)
    BP3, BP4  ∂C/∂b^l_j = δ^l_j,  ∂C/∂w^l_jk = a^{l−1}_k δ^l_j

Examples are rows, so every step is one matrix product over all neurons and
all examples at once. δ is kept per example (∂C_x/∂z for that example's own
cost C_x); the gradients of C average (``reduction: mean``) or sum them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from .errors import BpcalcError
from .problem import Layer, Problem

Array = np.ndarray


@dataclass(frozen=True)
class LayerSolution:
    """Everything computed for layer l. Per-example arrays are (examples, n_l)."""

    z: Array
    a: Array
    delta: Array
    dC_dw: Array                 # (n_l, n_{l−1})
    dC_db: Array | None          # (n_l,), None when the layer has no bias
    w_updated: Array | None      # None when the problem gives no learning rate
    b_updated: Array | None


@dataclass(frozen=True)
class Parameter:
    """One named weight or bias, with where it sits and what happened to it."""

    name: str
    layer: int                   # 1-based, as in the course
    kind: str                    # "weights" or "bias"
    index: tuple[int, ...]       # (j, k) for a weight, (j,) for a bias; 0-based
    value: float
    gradient: float
    updated: float | None
    fixed: bool


@dataclass(frozen=True)
class Solution:
    """The solved problem: per-layer values, the loss, and the SGD update."""

    problem: Problem
    layers: tuple[LayerSolution, ...]
    loss: float                  # C = C0 + penalty
    example_losses: Array        # C_x for each example (without the penalty)
    penalty: float = 0.0         # λ/(2n)·Σw², regularization: {l2: λ}

    @property
    def output(self) -> Array:
        return self.layers[-1].a

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in [self.problem.inputs.shape[1], *(l.size for l in self.problem.layers)])
        title = f" {self.problem.title!r}" if self.problem.title else ""
        return (f"<Solution{title}: {sizes} network, {len(self.problem.inputs)} example(s), "
                f"loss {self.loss:.6g}>")

    def _repr_markdown_(self) -> str:
        """Jupyter shows a solution as its tables (the renderers are imported on demand)."""
        from .render.markdown import tables_markdown
        from .render.tables import solution_tables

        return tables_markdown(solution_tables(self, 6), self.problem.title)

    def parameters(self) -> Iterator[Parameter]:
        """Every weight and bias in order: layer by layer, weights row by row, then biases."""
        for number, (layer, result) in enumerate(zip(self.problem.layers, self.layers), start=1):
            fixed_w, fixed_b = "weights" in layer.fixed, "bias" in layer.fixed
            names = iter(layer.weight_names.flat())
            for (j, k), value in np.ndenumerate(layer.weights):
                yield Parameter(next(names), number, "weights", (j, k), float(value),
                                float(result.dC_dw[j, k]),
                                None if result.w_updated is None else float(result.w_updated[j, k]),
                                fixed_w)
            if layer.bias is not None:
                for j, (name, value) in enumerate(zip(layer.bias_names.flat(), layer.bias)):
                    yield Parameter(name, number, "bias", (j,), float(value),
                                    float(result.dC_db[j]),
                                    None if result.b_updated is None else float(result.b_updated[j]),
                                    fixed_b)

    def _by_name(self, weights: str, bias: str) -> dict[str, float]:
        """Name -> value for every parameter, flattened with NumPy (fast for wide layers)."""
        result: dict[str, float] = {}
        for layer, solved in zip(self.problem.layers, self.layers):
            values = getattr(solved, weights)
            if values is None:
                return {}
            result.update(zip(layer.weight_names.flat(), values.ravel().tolist()))
            if layer.bias_names is not None:
                result.update(zip(layer.bias_names.flat(), getattr(solved, bias).tolist()))
        return result

    def gradients(self) -> dict[str, float]:
        """∂C/∂parameter by name, in the order of :meth:`parameters`."""
        return self._by_name("dC_dw", "dC_db")

    def updated(self) -> dict[str, float]:
        """The parameters after one SGD step, by name; empty without a learning rate."""
        return self._by_name("w_updated", "b_updated")

    def to_dict(self) -> dict[str, Any]:
        """The document ``bpcalc solve --format json`` prints, at full precision."""
        single = self.problem.single

        def per_example(values: Array) -> list:
            return values[0].tolist() if single else values.tolist()

        def optional(values: Array | None) -> list | None:
            return None if values is None else values.tolist()

        return {
            "title": self.problem.title,
            "loss": float(self.loss),
            **({"penalty": self.penalty, "l2": self.problem.l2} if self.problem.l2 else {}),
            "learning_rate": self.problem.learning_rate,
            "layers": [
                {
                    "layer": number,
                    "activation": layer.activation.name,
                    "z": per_example(result.z),
                    "a": per_example(result.a),
                    "delta": per_example(result.delta),
                    "dC_dw": result.dC_dw.tolist(),
                    "dC_db": optional(result.dC_db),
                    "w_updated": optional(result.w_updated),
                    "b_updated": optional(result.b_updated),
                }
                for number, (layer, result) in enumerate(zip(self.problem.layers, self.layers), start=1)
            ],
            "gradients": self.gradients(),
            "updated": self.updated(),
        }


def forward(problem: Problem, params: Sequence[tuple[Array, Array | None]] | None = None,
            inputs: Array | None = None) -> tuple[list[Array], list[Array]]:
    """z^l and a^l for l = 1..L, for all examples at once; a^0 is the input.
    ``params`` ((w^l, b^l) per layer) and ``inputs`` replace the problem's own arrays
    (training runs the same pass on its current parameters and on mini-batches)."""
    if params is None:
        params = [(layer.weights, layer.bias) for layer in problem.layers]
    activations, weighted_inputs = [problem.inputs if inputs is None else inputs], []
    for layer, (weights, bias) in zip(problem.layers, params):
        z = activations[-1] @ weights.T
        if bias is not None:
            z = z + bias
        weighted_inputs.append(z)
        activations.append(layer.activation(z, **layer.params))
    return weighted_inputs, activations[1:]


def output_error(problem: Problem, z: Array, a: Array, targets: Array | None = None) -> tuple[Array, Array]:
    """The per-example costs C_x and δ^L (BP1), exact where a saturates."""
    loss = problem.loss
    targets = problem.targets if targets is None else targets
    output = problem.layers[-1]
    fused = loss.fused.get(output.activation.name)
    if fused is not None:
        return fused.cost(z, targets), fused.delta(z, a, targets)
    complaint = loss.domain(a, targets)
    if complaint:
        raise BpcalcError(f"{problem.source or '<problem>'}: loss {loss.name} {complaint}; "
                          f"the output layer ({output.activation.name}) gives {_first_outside(a)}")
    costs = loss.cost(a, targets)
    return costs, output.activation.backprop(z, a, loss.gradient(a, targets), **output.params)


def backward(problem: Problem, zs: Sequence[Array], activations: Sequence[Array], delta: Array,
             weights: Sequence[Array] | None = None) -> list[Array]:
    """δ^l for every layer from δ^L (BP2), with the given weights (the problem's by default)."""
    if weights is None:
        weights = [layer.weights for layer in problem.layers]
    deltas = [delta]
    for layer, following, z, a in zip(problem.layers[-2::-1], weights[:0:-1],
                                      zs[-2::-1], activations[-2::-1]):
        deltas.append(layer.activation.backprop(z, a, deltas[-1] @ following, **layer.params))
    deltas.reverse()
    return deltas


def solve(problem: Problem) -> Solution:
    """Run the forward pass, back-propagate the error, and take one SGD step.
    (A computation graph, :class:`bpcalc.graph.GraphProblem`, is solved by its own module.)"""
    if getattr(problem, "kind", None) == "graph":
        from .graph import solve_graph

        return solve_graph(problem)  # type: ignore[arg-type, return-value]
    with np.errstate(all="ignore"):          # overflow is reported below, in words
        zs, activations = forward(problem)
        costs, delta = output_error(problem, zs[-1], activations[-1])
        deltas = backward(problem, zs, activations, delta)
        scale = 1.0 / len(problem.inputs) if problem.reduction == "mean" else 1.0
        decay = getattr(problem, "l2", 0.0) / len(problem.inputs)        # λ/n
        previous = [problem.inputs, *activations[:-1]]
        layers = tuple(
            _layer_solution(layer, z, a, d, a_prev, scale, problem.learning_rate, decay)
            for layer, z, a, d, a_prev in zip(problem.layers, zs, activations, deltas, previous)
        )
        penalty = decay / 2 * sum(float(np.vdot(layer.weights, layer.weights)) for layer in problem.layers) \
            if decay else 0.0
        loss = float(costs.mean() if problem.reduction == "mean" else costs.sum()) + penalty
    solution = Solution(problem, layers, loss, costs, penalty)
    _check_finite(solution)
    return solution


def _layer_solution(layer: Layer, z: Array, a: Array, delta: Array, a_prev: Array,
                    scale: float, rate: float | None, decay: float = 0.0) -> LayerSolution:
    dC_dw = scale * (delta.T @ a_prev)                                       # BP4
    if decay:
        dC_dw = dC_dw + decay * layer.weights                                # L2: + (λ/n)·w
    dC_db = scale * delta.sum(axis=0) if layer.bias is not None else None    # BP3
    w_updated = b_updated = None
    if rate is not None:
        w_updated = layer.weights if "weights" in layer.fixed else layer.weights - rate * dC_dw
        if layer.bias is not None:
            b_updated = layer.bias if "bias" in layer.fixed else layer.bias - rate * dC_db
    return LayerSolution(z, a, delta, dC_dw, dC_db, w_updated, b_updated)


def _first_outside(a: Array) -> str:
    example, neuron = np.argwhere((a < 0) | (a > 1))[0]
    return f"a = {a[example, neuron]:g} for output {neuron + 1}" + (
        f" of example {example}" if len(a) > 1 else "")


def _check_finite(solution: Solution) -> None:
    where = solution.problem.source or "<problem>"
    if not np.isfinite(solution.loss):
        output = solution.output
        raise BpcalcError(f"{where}: the loss {solution.problem.loss.name} is infinite for these "
                          f"numbers (outputs {np.array2string(output[0], precision=4)}): "
                          "a log of 0, or values too large for float64")
    for number, layer in enumerate(solution.layers, start=1):
        for name in ("z", "a", "delta", "dC_dw"):
            if not np.all(np.isfinite(getattr(layer, name))):
                raise BpcalcError(f"{where}: {name} of layer {number} overflows float64; "
                                  "check the sizes of the weights and inputs")
