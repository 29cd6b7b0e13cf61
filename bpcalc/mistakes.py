"""Common back-propagation mistakes, as small transformations of the solver.

Each entry recomputes what a student would get by making one mistake — a
derivative left out, a sign flipped, a neighbouring gradient copied — and
says, in one sentence, which step it points at. A wrong numeric answer is
diagnosed by the first entry whose value it matches. Adding a mistake is one
function and one line in :data:`MISTAKES`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .activations import Activation
from .errors import BpcalcError
from .losses import Loss
from .numbers import format_number
from .paths import resolve
from .problem import Problem
from .solver import LayerSolution, Solution, _layer_solution, forward, output_error, solve

Candidate = tuple[float, str]          # (the value the mistake gives, the sentence)
_PARAMETER_PATH = re.compile(r"(gradients|updated)\.([A-Za-z][A-Za-z0-9_]*)\Z")


@dataclass(frozen=True)
class Mistake:
    name: str
    candidates: Callable[[Problem, Solution, str], Iterator[Candidate]]


def _value(solution: Solution, path: str) -> float | None:
    try:
        value = resolve(solution.to_dict(), path)
    except BpcalcError:
        return None
    return float(value) if isinstance(value, (int, float)) else None


def _resolved(problem: Problem, path: str, sentence: str) -> Iterator[Candidate]:
    """Re-solve a transformed problem and read the same path."""
    try:
        value = _value(solve(problem), path)
    except (BpcalcError, FloatingPointError, ValueError):
        return
    if value is not None and np.isfinite(value):
        yield value, sentence


def _with_layer(problem: Problem, index: int, activation: Activation) -> Problem:
    layers = list(problem.layers)
    layers[index] = dataclasses.replace(layers[index], activation=activation)
    return dataclasses.replace(problem, layers=tuple(layers))


def _with_loss_gradient(problem: Problem, factor: float) -> Problem:
    loss: Loss = problem.loss
    scaled = dataclasses.replace(loss, gradient=lambda a, t: factor * loss.gradient(a, t), fused={})
    return dataclasses.replace(problem, loss=scaled)


def _symbol(problem: Problem, index: int) -> str:
    return f"{problem.layers[index].activation.unicode}′(z{index + 1})"


def _shown_derivative(problem: Problem, solution: Solution, index: int) -> str:
    layer = problem.layers[index]
    if layer.size != 1 or not layer.activation.elementwise or not problem.single:
        return ""
    z = solution.layers[index].z
    return f" = {format_number(float(layer.activation.prime(z, **layer.params)[0, 0]), 4)}"


def missing_derivative(problem: Problem, solution: Solution, path: str) -> Iterator[Candidate]:
    last = len(problem.layers) - 1
    for index, layer in enumerate(problem.layers):
        ones = dataclasses.replace(layer.activation, derivative=lambda z, **_: np.ones_like(z),
                                   backprop_rule=None, elementwise=True,
                                   prime_from_output=None)
        rule = "BP1" if index == last else "BP2"
        yield from _resolved(_with_layer(problem, index, ones), path,
                             f"matches leaving out the activation derivative {_symbol(problem, index)}"
                             f"{_shown_derivative(problem, solution, index)} in δ{index + 1} ({rule}).")


def function_for_derivative(problem: Problem, solution: Solution, path: str) -> Iterator[Candidate]:
    last = len(problem.layers) - 1
    for index, layer in enumerate(problem.layers):
        if not layer.activation.elementwise:
            continue
        f = layer.activation.function
        swapped = dataclasses.replace(layer.activation, derivative=f, prime_from_output=None)
        rule = "BP1" if index == last else "BP2"
        yield from _resolved(_with_layer(problem, index, swapped), path,
                             f"matches using {layer.activation.unicode}(z{index + 1}) where "
                             f"{_symbol(problem, index)} belongs in δ{index + 1} ({rule}).")


def sign_flipped(problem: Problem, solution: Solution, path: str) -> Iterator[Candidate]:
    yield from _resolved(_with_loss_gradient(problem, -1.0), path,
                         "has the wrong sign: it matches using (t − a) where the loss derivative "
                         "gives (a − t).")


def half_forgotten(problem: Problem, solution: Solution, path: str) -> Iterator[Candidate]:
    if problem.loss.name == "half_squared_error":
        yield from _resolved(_with_loss_gradient(problem, 2.0), path,
                             "matches forgetting the ½ of C = ½(y − t)²: its derivative is "
                             "(y − t), not 2(y − t).")
    elif problem.loss.name == "squared_error":
        yield from _resolved(_with_loss_gradient(problem, 0.5), path,
                             "matches adding a ½ that C = (y − t)² does not have: ∂C/∂y = 2(y − t).")


def _backward_with(problem: Problem, transpose: bool, input_of: Callable[[int, list], np.ndarray]
                   ) -> Solution | None:
    """The backward pass with BP2 or BP4 changed, for the two mistakes that need it."""
    with np.errstate(all="ignore"):
        zs, activations = forward(problem)
        costs, delta = output_error(problem, zs[-1], activations[-1])
        deltas = [delta]
        for index in range(len(problem.layers) - 2, -1, -1):
            weights = problem.layers[index + 1].weights
            if not transpose and weights.shape[0] != weights.shape[1]:
                return None
            back = deltas[-1] @ (weights if transpose else weights.T)
            layer = problem.layers[index]
            deltas.append(layer.activation.backprop(zs[index], activations[index], back, **layer.params))
        deltas.reverse()
        scale = 1.0 / len(problem.inputs) if problem.reduction == "mean" else 1.0
        layers: list[LayerSolution] = []
        for index, layer in enumerate(problem.layers):
            source = input_of(index, [problem.inputs, *activations])
            if source.shape[1] != layer.weights.shape[1]:
                return None
            layers.append(_layer_solution(layer, zs[index], activations[index], deltas[index],
                                          source, scale, problem.learning_rate))
        return Solution(problem, tuple(layers), float(np.mean(costs)), costs)


def not_transposed(problem: Problem, solution: Solution, path: str) -> Iterator[Candidate]:
    wrong = _backward_with(problem, transpose=False, input_of=lambda index, a: a[index])
    if wrong is not None and (value := _value(wrong, path)) is not None:
        yield value, ("matches back-propagating with w^(l+1) instead of its transpose (w^(l+1))ᵀ "
                      "in BP2: δ^l_k sums w_jk δ^(l+1)_j over j, the neurons it feeds.")


def wrong_activation(problem: Problem, solution: Solution, path: str) -> Iterator[Candidate]:
    wrong = _backward_with(problem, transpose=True, input_of=lambda index, a: a[index + 1])
    if wrong is not None and (value := _value(wrong, path)) is not None:
        yield value, ("matches using a^l where a^(l−1) belongs in BP4: ∂C/∂w^l_jk = a^(l−1)_k δ^l_j, "
                      "the activation feeding the weight, not the one it produces.")


def neighbouring_gradient(problem: Problem, solution: Solution, path: str) -> Iterator[Candidate]:
    match = _PARAMETER_PATH.match(path)
    if not match or match[1] != "gradients":
        return
    parameters = {p.name: p for p in solution.parameters()}
    asked = parameters.get(match[2])
    if asked is None:
        return
    inputs = [problem.inputs, *(layer.a for layer in solution.layers)]
    for other in parameters.values():
        if other.name == asked.name:
            continue
        sentence = f"is ∂C/∂{other.name}, not ∂C/∂{asked.name}."
        if (asked.kind == "weights" and other.kind == "bias" and other.layer == asked.layer
                and other.index[0] == asked.index[0]):
            k = asked.index[1]
            source = inputs[asked.layer - 1][:, k]
            factor = "a" + (str(asked.layer - 1) if asked.layer > 1 else "0 (the input)")
            shown = f" = {format_number(float(source[0]), 4)}" if problem.single else ""
            sentence = (f"is ∂C/∂{other.name}; ∂C/∂{asked.name} = {factor}·∂C/∂{other.name}: "
                        f"you left out the factor {factor}{shown} (BP4).")
        yield other.gradient, sentence


def update_mistakes(problem: Problem, solution: Solution, path: str) -> Iterator[Candidate]:
    match = _PARAMETER_PATH.match(path)
    rate = problem.learning_rate
    if not match or match[1] != "updated" or rate is None:
        return
    for parameter in solution.parameters():
        if parameter.name == match[2] and not parameter.fixed:
            old, gradient = parameter.value, parameter.gradient
            yield old + rate * gradient, ("matches w + η·∂C/∂w: gradient descent subtracts, "
                                          "w ← w − η·∂C/∂w.")
            yield old - gradient, f"matches w − ∂C/∂w without the learning rate η = {format_number(rate)}."
            yield -rate * gradient, "is the step −η·∂C/∂w alone: add it to the old value w."


def _rounding(digits: int) -> Callable[[np.ndarray], np.ndarray]:
    def round_significant(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            magnitude = np.where(values == 0, 0, np.floor(np.log10(np.abs(values))))
        scale = 10.0 ** (digits - 1 - magnitude)
        return np.round(values * scale) / scale
    return round_significant


def rounded_early(problem: Problem, solution: Solution, path: str) -> Iterator[Candidate]:
    for digits in (2, 3):
        r = _rounding(digits)
        layers = []
        for layer in problem.layers:
            act = layer.activation
            rounded = dataclasses.replace(
                act, function=lambda z, _f=act.function, **p: r(_f(z, **p)),
                derivative=None if act.derivative is None else
                (lambda z, _d=act.derivative, **p: r(_d(z, **p))), prime_from_output=None)
            layers.append(dataclasses.replace(layer, activation=rounded))
        loss = dataclasses.replace(problem.loss, gradient=lambda a, t, _g=problem.loss.gradient: r(_g(a, t)),
                                   fused={})
        yield from _resolved(dataclasses.replace(problem, layers=tuple(layers), loss=loss), path,
                             f"matches rounding the intermediate values (a, σ′, …) to {digits} "
                             "significant digits: keep at least 5 digits until the final answer.")


MISTAKES: tuple[Mistake, ...] = (
    Mistake("neighbouring_gradient", neighbouring_gradient),
    Mistake("update", update_mistakes),
    Mistake("sign_flipped", sign_flipped),
    Mistake("missing_derivative", missing_derivative),
    Mistake("function_for_derivative", function_for_derivative),
    Mistake("half_forgotten", half_forgotten),
    Mistake("not_transposed", not_transposed),
    Mistake("wrong_activation", wrong_activation),
    Mistake("rounded_early", rounded_early),
)


def candidates(problem: Problem, solution: Solution, path: str) -> list[tuple[str, float, str]]:
    """Every (mistake name, value, sentence) for a path, computed once per question."""
    exact = _value(solution, path)
    found = []
    for mistake in MISTAKES:
        for value, sentence in mistake.candidates(problem, solution, path):
            if exact is None or not np.isclose(value, exact, rtol=1e-9, atol=1e-15):
                found.append((mistake.name, value, sentence))
    return found
