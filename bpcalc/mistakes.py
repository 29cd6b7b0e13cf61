"""Common back-propagation mistakes, as small changes to the backward pass.

Each entry recomputes what a student gets by making one mistake — a derivative
left out or applied twice, a sign flipped, w where wᵀ belongs, a neighbouring
gradient copied, the weight before the update — and says in one sentence which
step it points at. A wrong numeric answer is diagnosed by the entry whose value
it matches most closely. Adding a mistake is one function and one line in
:data:`MISTAKES`.

Every entry works on layers of any shape. Where a student's formula has
indices that do not exist (the untransposed sum Σ_j w^{l+1}_kj δ^{l+1}_j needs
neuron k of layer l+1; a^l_k in place of a^{l−1}_k needs neuron k of layer l),
the mistaken value is defined only for the entries whose indices exist and is
skipped for the others. A mistake at one layer is tried at each layer alone and
at every layer at once (a misconception a student repeats).

:class:`Diagnoser` computes each mistaken solution once and serves every
question's path from it, so a problem's whole diagnosis table costs a few
backward passes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .activations import Activation
from .errors import BpcalcError
from .losses import Loss
from .numbers import format_number
from .paths import resolve
from .problem import Problem
from .solver import Solution, _layer_solution, forward, output_error, solve

Array = np.ndarray
Candidate = tuple[float, str]          # (the value the mistake gives, the sentence)
_PARAMETER_PATH = re.compile(r"(gradients|updated)\.([A-Za-z][A-Za-z0-9_]*)\Z")


class Diagnoser:
    """A problem's forward pass, its right backward pass, and its mistaken backward
    passes (each built once, on first use)."""

    def __init__(self, problem: Problem, solution: Solution) -> None:
        self.problem, self.solution = problem, solution
        with np.errstate(all="ignore"):
            self.zs, self.activations = forward(problem)
            _costs, self.output_delta = output_error(problem, self.zs[-1], self.activations[-1])
        self.right_deltas = [layer.delta for layer in solution.layers]
        self._variants: dict[Any, Solution | None] = {}
        self._documents: dict[int, dict[str, Any]] = {}

    @property
    def last(self) -> int:
        return len(self.problem.layers) - 1

    # -- the backward pass, with a step changed ---------------------------------
    def right_step(self, index: int, following: Array) -> Array:
        """BP2, right: δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ f′(z^l), for layer ``index`` (0-based)."""
        layer = self.problem.layers[index]
        return layer.activation.backprop(self.zs[index], self.activations[index],
                                         following @ self.problem.layers[index + 1].weights, **layer.params)

    def backward(self, output_delta: Array | None = None,
                 step: Callable[[int, Array], Array] | None = None,
                 source: Callable[[int], Array] | None = None) -> Solution:
        """The solution with δ^L, the BP2 step or the BP4 input replaced."""
        problem = self.problem
        with np.errstate(all="ignore"):
            deltas = [self.output_delta if output_delta is None else output_delta]
            for index in range(self.last - 1, -1, -1):
                deltas.append((step or self.right_step)(index, deltas[-1]))
            deltas.reverse()
            scale = 1.0 / len(problem.inputs) if problem.reduction == "mean" else 1.0
            decay = problem.l2 / len(problem.inputs)          # the L2 penalty's λ/n, kept
            previous = [problem.inputs, *self.activations[:-1]]
            layers = tuple(
                _layer_solution(layer, self.zs[index], self.activations[index], deltas[index],
                                previous[index] if source is None else source(index), scale,
                                problem.learning_rate, decay)
                for index, layer in enumerate(problem.layers))
        return Solution(problem, layers, self.solution.loss, self.solution.example_losses,
                        self.solution.penalty)

    def changed_at(self, chosen: set[int], output: Callable[[], Array] | None,
                   hidden: Callable[[int, Array], Array]) -> Solution:
        """The backward pass with the layers in ``chosen`` (0-based) done wrong: δ^L by
        ``output()``, a hidden δ^l by ``hidden(index, δ^{l+1})``; the others right."""
        delta_out = output() if output is not None and self.last in chosen else None
        return self.backward(delta_out, lambda index, following: (
            hidden(index, following) if index in chosen else self.right_step(index, following)))

    def variant(self, key: Any, build: Callable[[], Solution | None]) -> Solution | None:
        if key not in self._variants:
            try:
                self._variants[key] = build()
            except (BpcalcError, ArithmeticError, ValueError):
                self._variants[key] = None
        return self._variants[key]

    def value(self, solution: Solution | None, path: str) -> float | None:
        """The number at ``path`` in a (mistaken) solution; None if it has none there."""
        if solution is None:
            return None
        document = self._documents.get(id(solution))
        if document is None:
            document = self._documents[id(solution)] = solution.to_dict()
        try:
            value = resolve(document, path)
        except BpcalcError:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            return None
        return float(value)

    def per_layer(self, key: str, path: str, build: Callable[[set[int]], Solution | None],
                  one: Callable[[int], str], every: str, layers: list[int]) -> Iterator[Candidate]:
        """A mistake made at each of ``layers`` alone (said by ``one(index)``), then at all of
        them at once (said by ``every``, where ``{where}`` names the equations)."""
        choices = [{index} for index in layers] + ([set(layers)] if len(layers) > 1 else [])
        for chosen in choices:
            solution = self.variant((key, frozenset(chosen)), lambda chosen=chosen: build(chosen))
            value = self.value(solution, path)
            if value is not None:
                yield value, (one(next(iter(chosen))) if len(chosen) == 1 else
                              every.format(where=_where(self, chosen)))


@dataclass(frozen=True)
class Mistake:
    name: str
    candidates: Callable[[Diagnoser, str], Iterator[Candidate]]
    conceptual: bool = True     # a mistake of understanding; False for rounding noise


# ------------------------------------------------------------------ words

def _symbol(problem: Problem, index: int) -> str:
    return f"{problem.layers[index].activation.unicode}′(z{index + 1})"


def _shown_derivative(diagnoser: Diagnoser, index: int) -> str:
    layer = diagnoser.problem.layers[index]
    if layer.size != 1 or not layer.activation.elementwise or not diagnoser.problem.single:
        return ""
    z = diagnoser.zs[index]
    return f" = {format_number(float(layer.activation.prime(z, **layer.params)[0, 0]), 4)}"


def _where(diagnoser: Diagnoser, chosen: set[int]) -> str:
    if len(chosen) > 1:
        return "in every δ (BP1 and BP2)" if diagnoser.last in chosen else "in every hidden δ (BP2)"
    index = next(iter(chosen))
    return f"in δ{index + 1} ({'BP1' if index == diagnoser.last else 'BP2'})"


# ------------------------------------------------------------------ the mistakes

def missing_derivative(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    """f′(z^l) left out: δ^L = ∂C/∂a^L (softmax's Jacobian, or the σ′ that cross-entropy
    cancels, forgotten), or δ^l = (w^{l+1})ᵀ δ^{l+1}."""
    problem = diagnoser.problem
    last = diagnoser.last

    def build(chosen: set[int]) -> Solution:
        return diagnoser.changed_at(chosen, lambda: problem.loss.gradient(diagnoser.activations[-1], problem.targets),
                                    lambda index, following: following @ problem.layers[index + 1].weights)

    def sentence(index: int) -> str:
        output = problem.layers[index].activation
        fused = problem.loss.fused.get(output.name) if index == last else None
        if fused is not None:
            return (f"matches taking δ{last + 1} = ∂C/∂a{last + 1} and leaving out the derivative of "
                    f"the {output.name} output in BP1: ∂C/∂a ⊙ {_symbol(problem, index)} "
                    f"simplifies to δ{last + 1} = a{last + 1} − t with {problem.loss.name}.")
        if not output.elementwise:
            return (f"matches leaving out the {output.name} Jacobian in δ{index + 1} (BP1): "
                    f"δ{index + 1} = J(z{index + 1})ᵀ ∂C/∂a{index + 1}, not ∂C/∂a{index + 1} alone.")
        return (f"matches leaving out the activation derivative {_symbol(problem, index)}"
                f"{_shown_derivative(diagnoser, index)} {_where(diagnoser, {index})}.")

    yield from diagnoser.per_layer("missing", path, build, sentence,
                                   "matches leaving out the activation derivatives f′(z^l) {where}.",
                                   list(range(len(problem.layers))))


def function_for_derivative(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    """f(z^l) where f′(z^l) belongs."""
    problem = diagnoser.problem
    layers = [index for index, layer in enumerate(problem.layers) if layer.activation.elementwise]

    def build(chosen: set[int]) -> Solution:
        return diagnoser.changed_at(
            chosen, lambda: problem.loss.gradient(diagnoser.activations[-1], problem.targets) * diagnoser.activations[-1],
            lambda index, following: (following @ problem.layers[index + 1].weights) * diagnoser.activations[index])

    def sentence(index: int) -> str:
        return (f"matches using {problem.layers[index].activation.unicode}(z{index + 1}) where "
                f"{_symbol(problem, index)} belongs {_where(diagnoser, {index})}.")

    yield from diagnoser.per_layer("function", path, build, sentence,
                                   "matches using f(z^l) where f′(z^l) belongs {where}.", layers)


def derivative_twice(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    """f′(z^l) multiplied in twice (δ^l ⊙ f′(z^l) once more)."""
    problem = diagnoser.problem
    last = diagnoser.last

    def again(index: int, delta: Array) -> Array:
        layer = problem.layers[index]
        return layer.activation.backprop(diagnoser.zs[index], diagnoser.activations[index], delta,
                                         **layer.params)

    def build(chosen: set[int]) -> Solution:
        return diagnoser.changed_at(chosen, lambda: again(last, diagnoser.output_delta),
                                    lambda index, following: again(index, diagnoser.right_step(index, following)))

    def sentence(index: int) -> str:
        return (f"matches applying {_symbol(problem, index)}{_shown_derivative(diagnoser, index)} twice "
                f"{_where(diagnoser, {index})}: δ{index + 1} already contains it once.")

    yield from diagnoser.per_layer("twice", path, build, sentence,
                                   "matches applying each activation derivative f′(z^l) twice {where}.",
                                   list(range(len(problem.layers))))


def sign_flipped(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    value = diagnoser.value(diagnoser.variant("sign", lambda: diagnoser.backward(-diagnoser.output_delta)),
                            path)
    if value is not None:
        yield value, ("has the wrong sign: it matches using (t − a) where the loss derivative "
                      "gives (a − t).")


def half_forgotten(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    name = diagnoser.problem.loss.name
    factor, sentence = {
        "half_squared_error": (2.0, "matches forgetting the ½ of C = ½(y − t)²: its derivative is "
                                    "(y − t), not 2(y − t)."),
        "squared_error": (0.5, "matches adding a ½ that C = (y − t)² does not have: ∂C/∂y = 2(y − t)."),
    }.get(name, (None, ""))
    if factor is not None:
        solution = diagnoser.variant("half", lambda: diagnoser.backward(factor * diagnoser.output_delta))
        value = diagnoser.value(solution, path)
        if value is not None:
            yield value, sentence


def not_transposed(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    """BP2 with w^{l+1} for (w^{l+1})ᵀ: δ^l_k = (Σ_j w^{l+1}_kj δ^{l+1}_j) f′(z^l_k), summed over
    the j where w^{l+1}_kj exists (j < n_l) and defined for the k where it does (k < n_{l+1})."""
    problem = diagnoser.problem

    def untransposed(index: int, following: Array) -> Array:
        weights = problem.layers[index + 1].weights          # (n_{l+1}, n_l)
        layer = problem.layers[index]
        m = min(weights.shape)
        back = np.full((following.shape[0], layer.size), np.nan)
        back[:, :m] = following[:, :m] @ weights[:m, :m].T
        return layer.activation.backprop(diagnoser.zs[index], diagnoser.activations[index], back,
                                         **layer.params)

    def build(chosen: set[int]) -> Solution:
        return diagnoser.changed_at(chosen, None, untransposed)

    said = ("matches back-propagating with w^(l+1) instead of its transpose (w^(l+1))ᵀ {where}: "
            "δ^l_k sums w_jk δ^(l+1)_j over j, the neurons it feeds.")
    hidden = list(range(len(problem.layers) - 1))
    yield from diagnoser.per_layer("transpose", path, build,
                                   lambda index: said.format(where=f"from δ{index + 2} to δ{index + 1} (BP2)"),
                                   said.format(where="in every BP2 step"), hidden)
    square = [index for index in hidden if len(set(problem.layers[index + 1].weights.shape)) == 1]
    if 1 < len(square) < len(hidden):      # the mistake made wherever the shapes allow it
        solution = diagnoser.variant(("transpose-square",), lambda: build(set(square)))
        value = diagnoser.value(solution, path)
        if value is not None:
            yield value, said.format(where="in every BP2 step where w^(l+1) is square")


def wrong_activation(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    """BP4 with a^l for a^{l−1}: ∂C/∂w^l_jk = a^l_k δ^l_j, where neuron k of layer l exists."""
    problem = diagnoser.problem

    def source(index: int) -> Array:
        own = diagnoser.activations[index]                    # a^l, (examples, n_l)
        columns = problem.layers[index].weights.shape[1]      # n_{l−1}
        result = np.full((own.shape[0], columns), np.nan)
        m = min(columns, own.shape[1])
        result[:, :m] = own[:, :m]
        return result

    value = diagnoser.value(diagnoser.variant("a^l", lambda: diagnoser.backward(source=source)), path)
    if value is not None:
        yield value, ("matches using a^l where a^(l−1) belongs in BP4: ∂C/∂w^l_jk = a^(l−1)_k δ^l_j, "
                      "the activation feeding the weight, not the one it produces.")


def neighbouring_gradient(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    problem, solution = diagnoser.problem, diagnoser.solution
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


def _updated_parameter(diagnoser: Diagnoser, path: str) -> Any:
    match = _PARAMETER_PATH.match(path)
    if not match or match[1] != "updated" or diagnoser.problem.learning_rate is None:
        return None
    return next((p for p in diagnoser.solution.parameters() if p.name == match[2] and not p.fixed), None)


def old_value(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    """The parameter as it was: the update left out (also when it is smaller than the tolerance)."""
    parameter = _updated_parameter(diagnoser, path)
    if parameter is not None:
        yield sgd_old_value(parameter.name, parameter.value, parameter.updated)


def update_mistakes(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    parameter = _updated_parameter(diagnoser, path)
    if parameter is not None:
        yield from sgd_mistakes(parameter.value, parameter.gradient, diagnoser.problem.learning_rate)


def sgd_old_value(name: str, old: float, updated: float, cost: str = "C") -> Candidate:
    """The value before the step (shared with computation graphs)."""
    return old, (f"is the value before the update ({name} = {format_number(old)}): one SGD step "
                 f"gives {name} − η·∂{cost}/∂{name} = {format_number(updated)}.")


def sgd_mistakes(old: float, gradient: float, rate: float, cost: str = "C") -> Iterator[Candidate]:
    """The SGD step taken the wrong way (shared with computation graphs)."""
    yield old + rate * gradient, (f"matches w + η·∂{cost}/∂w: gradient descent subtracts, "
                                  f"w ← w − η·∂{cost}/∂w.")
    yield old - gradient, f"matches w − ∂{cost}/∂w without the learning rate η = {format_number(rate)}."
    yield -rate * gradient, f"is the step −η·∂{cost}/∂w alone: add it to the old value w."


def penalty_left_out(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    """With ``regularization: {l2: λ}``, ∂C₀/∂w alone, the (λ/n)·w term forgotten (and the
    update made with it)."""
    problem = diagnoser.problem
    match = _PARAMETER_PATH.match(path)
    if not problem.l2 or not match:
        return
    parameter = next((p for p in diagnoser.solution.parameters()
                      if p.name == match[2] and p.kind == "weights"), None)
    if parameter is None:
        return
    decay = problem.l2 / len(problem.inputs)
    term = decay * parameter.value
    why = (f"leaves out the L2 penalty's (λ/n)·{parameter.name} = {format_number(term, 4)}: with "
           f"regularization, ∂C/∂{parameter.name} = ∂C₀/∂{parameter.name} + (λ/n)·{parameter.name}")
    if match[1] == "gradients":
        yield parameter.gradient - term, why + "."
    elif problem.learning_rate is not None and not parameter.fixed:
        yield parameter.value - problem.learning_rate * (parameter.gradient - term), \
            f"is the update with ∂C₀/∂{parameter.name}: it {why}."


def _rounding(digits: int) -> Callable[[np.ndarray], np.ndarray]:
    def round_significant(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            magnitude = np.where(values == 0, 0, np.floor(np.log10(np.abs(values))))
        scale = 10.0 ** (digits - 1 - magnitude)
        return np.round(values * scale) / scale
    return round_significant


def _rounded_problem(problem: Problem, digits: int) -> Problem:
    r = _rounding(digits)
    layers = []
    for layer in problem.layers:
        act: Activation = layer.activation
        rounded = dataclasses.replace(
            act, function=lambda z, _f=act.function, **p: r(_f(z, **p)),
            derivative=None if act.derivative is None else
            (lambda z, _d=act.derivative, **p: r(_d(z, **p))), prime_from_output=None)
        layers.append(dataclasses.replace(layer, activation=rounded))
    loss: Loss = problem.loss
    rounded_loss = dataclasses.replace(loss, gradient=lambda a, t, _g=loss.gradient: r(_g(a, t)), fused={})
    return dataclasses.replace(problem, layers=tuple(layers), loss=rounded_loss, questions=())


def rounded_early(diagnoser: Diagnoser, path: str) -> Iterator[Candidate]:
    for digits in (2, 3):
        solution = diagnoser.variant(("rounded", digits), lambda digits=digits: solve(
            _rounded_problem(diagnoser.problem, digits)))
        value = diagnoser.value(solution, path)
        if value is not None:
            yield value, (f"matches rounding the intermediate values (a, σ′, …) to {digits} "
                          "significant digits: keep at least 5 digits until the final answer.")


MISTAKES: tuple[Mistake, ...] = (
    Mistake("old_value", old_value),
    Mistake("penalty_left_out", penalty_left_out),
    Mistake("update", update_mistakes),
    Mistake("neighbouring_gradient", neighbouring_gradient),
    Mistake("sign_flipped", sign_flipped),
    Mistake("missing_derivative", missing_derivative),
    Mistake("function_for_derivative", function_for_derivative),
    Mistake("derivative_twice", derivative_twice),
    Mistake("half_forgotten", half_forgotten),
    Mistake("not_transposed", not_transposed),
    Mistake("wrong_activation", wrong_activation),
    Mistake("rounded_early", rounded_early, conceptual=False),
)
_CONCEPTUAL = {mistake.name: mistake.conceptual for mistake in MISTAKES}


def is_conceptual(name: str) -> bool:
    """A mistake of understanding, which a question's tolerance must tell from the right
    answer (``verify`` checks it); rounding early is not one."""
    return _CONCEPTUAL.get(name, True)


def candidates(problem: Problem, solution: Solution, path: str,
               diagnoser: Diagnoser | None = None) -> list[tuple[str, float, str]]:
    """Every (mistake name, value, sentence) for a path that differs from the right value,
    computed once per question (pass one ``diagnoser`` to share work between questions)."""
    diagnoser = diagnoser or Diagnoser(problem, solution)
    exact = diagnoser.value(solution, path)
    found: list[tuple[str, float, str]] = []
    seen: set[tuple[str, float]] = set()
    for mistake in MISTAKES:
        for value, sentence in mistake.candidates(diagnoser, path):
            if not np.isfinite(value) or (mistake.name, value) in seen:
                continue
            if exact is None or not np.isclose(value, exact, rtol=1e-9, atol=1e-15):
                seen.add((mistake.name, value))
                found.append((mistake.name, float(value), sentence))
    return found
