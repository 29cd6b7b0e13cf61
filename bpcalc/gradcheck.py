"""Proof by finite differences: every gradient back-propagation gives, checked numerically.

For each parameter w (a layered network's weights and biases, ``fixed`` ones too) or leaf
(a computation graph's inputs and parameters) the loss C is evaluated at w ± h and

    numeric  = (C(w + h) − C(w − h)) / 2h          (centred: error O(h²))
    h        = ε^(1/3) · max(1, |w|),   ε = 2.2e-16  (balances truncation h² against rounding ε/h)

is compared with the back-propagated ∂C/∂w (or a student's value, ``compare``) by the relative
error |a − b| / max(|a|, |b|, τ). τ is the smallest slope the differences can resolve at all:
rounding alone makes C(w ± h) uncertain by about ε·|C|, so the numeric slope by ε·|C|/h, and
τ = 10⁷ · ε·|C|/h puts that noise at the "good" threshold (a gradient of 0 is then good
against a numeric 1e-12, instead of "wrong" by a relative error of 1).

Verdicts: below 1e-7 good, up to 1e-4 doubtful, above wrong, unless the one-sided slopes
(C(w + h) − C(w))/h and (C(w) − C(w − h))/h disagree by more than curvature explains: then a
kink (ReLU, abs, max) lies within h of w, the centred difference averages two slopes, and the
verdict is "at a kink" (not counted as a failure: neither number can be trusted there).

The perturbed problems are made from the loaded one (the file is read once): for a layered
problem a copy of one weight array in ``dataclasses.replace``, for a graph a new ``parameters``
or ``inputs`` mapping.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import AnswerError, BpcalcError

EPSILON = 2.2e-16
GOOD, DOUBTFUL = 1e-7, 1e-4
KINK_RATIO = 1e-2          # one-sided slopes further apart than this (relative): a kink
STEP_RULE = "h = ε^(1/3)·max(1, |w|), ε = 2.2e-16"


@dataclass(frozen=True)
class Check:
    """One parameter or leaf: the value checked (bpcalc's or the student's) and the numeric one."""

    name: str
    value: float                  # the parameter's own value w
    claimed: float                # back-propagation's ∂C/∂w, or the student's
    numeric: float
    error: float                  # relative error
    verdict: str                  # good | doubtful | wrong | at a kink
    step: float                   # h
    fixed: bool = False           # a layered parameter marked fixed (checked all the same)
    example: int | None = None    # an input given per example: which one (0-based)

    @property
    def label(self) -> str:
        return self.name if self.example is None else f"{self.name}[{self.example}]"

    @property
    def agrees(self) -> bool:
        return self.verdict != "wrong"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "example": self.example, "value": self.value,
                "claimed": self.claimed, "numeric": self.numeric, "relative_error": self.error,
                "verdict": self.verdict, "step": self.step, "fixed": self.fixed}


@dataclass(frozen=True)
class GradientCheck:
    """Every check of one problem, and what was compared (bpcalc's gradients or a student's)."""

    checks: tuple[Check, ...]
    objective: str                # what was differentiated, in words
    compared: str                 # "backprop" or "student"
    loss: float

    @property
    def ok(self) -> bool:
        return all(check.agrees for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        counts = {verdict: sum(c.verdict == verdict for c in self.checks)
                  for verdict in ("good", "doubtful", "wrong", "at a kink")}
        return {"objective": self.objective, "loss": self.loss, "compared": self.compared,
                "step_rule": STEP_RULE, "thresholds": {"good": GOOD, "doubtful": DOUBTFUL},
                "ok": self.ok, "counts": counts, "checks": [c.to_dict() for c in self.checks]}


def step_size(value: float) -> float:
    return EPSILON ** (1 / 3) * max(1.0, abs(value))


def relative_error(a: float, b: float, tiny: float) -> float:
    denominator = max(abs(a), abs(b), tiny)
    return abs(a - b) / denominator if denominator > 0 else 0.0


def judge(claimed: float, plus: float, centre: float, minus: float, h: float,
          halves: Callable[[], tuple[float, float]] | None = None) -> tuple[float, float, str]:
    """The numeric slope, the relative error of ``claimed`` against it, and the verdict.

    ``halves`` gives C(w + h/2), C(w − h/2), asked for only when the verdict is not good: the
    one-sided slopes differ by h·C″ where C is smooth, so halving h halves their difference;
    at a kink the difference is the jump in slope, and it does not halve."""
    numeric = (plus - minus) / (2 * h)
    noise = EPSILON * max(abs(plus), abs(centre), abs(minus)) / h
    error = relative_error(claimed, numeric, 1e7 * noise)
    if not math.isfinite(error):
        return numeric, math.inf, "wrong"
    verdict = "good" if error < GOOD else "doubtful" if error <= DOUBTFUL else "wrong"
    if verdict != "good":
        forward, backward = (plus - centre) / h, (centre - minus) / h
        if relative_error(forward, backward, 1e7 * noise) > KINK_RATIO:
            if halves is None:
                return numeric, error, "at a kink"
            up, down = halves()
            ratio = ((up - centre) - (centre - down)) / (h / 2) / (forward - backward)
            if not 0.4 <= ratio <= 0.6:
                verdict = "at a kink"
    return numeric, error, verdict


@dataclass(frozen=True)
class _Leaf:
    """A quantity to perturb: its name, value, back-propagated slope and the loss around it."""

    name: str
    value: float
    backprop: float
    loss_at: Callable[[float], float]       # C with this one quantity set to the argument
    centre: float                           # C as given
    fixed: bool = False
    example: int | None = None


def gradient_check(problem: Any, compare: Mapping[str, Any] | None = None) -> GradientCheck:
    """Check every gradient of a solved problem by centred differences (see the module)."""
    from .solver import solve

    solution = solve(problem)
    if getattr(problem, "kind", None) == "graph":
        leaves, loss, objective = _graph_leaves(problem, solution)
    else:
        leaves, loss, objective = _layered_leaves(problem, solution)
    leaves = list(leaves)
    claimed = None if compare is None else student_values(compare, leaves)
    checks = []
    for leaf in leaves:
        key = (leaf.name, leaf.example)
        if claimed is not None and key not in claimed:
            continue
        h = step_size(leaf.value)
        # w ± h rounded to what float64 holds, so the divisor is the step actually taken
        up, down = leaf.value + h, leaf.value - h
        h = (up - down) / 2
        plus, minus = _loss_or_nan(leaf.loss_at, up), _loss_or_nan(leaf.loss_at, down)
        value = leaf.backprop if claimed is None else claimed[key]
        middle = leaf.value
        numeric, error, verdict = judge(
            value, plus, leaf.centre, minus, h,
            lambda at=leaf.loss_at, w=middle, h=h: (_loss_or_nan(at, w + h / 2), _loss_or_nan(at, w - h / 2)))
        checks.append(Check(leaf.name, leaf.value, value, numeric, error, verdict, h,
                            leaf.fixed, leaf.example))
    return GradientCheck(tuple(checks), objective, "backprop" if compare is None else "student", loss)


def _loss_or_nan(loss_at: Callable[[float], float], value: float) -> float:
    """The loss at a perturbed point; NaN where it is undefined there (a log of 0, …)."""
    try:
        return loss_at(value)
    except BpcalcError:
        return math.nan


# --------------------------------------------------------------------------- layered networks

def _layered_leaves(problem: Any, solution: Any) -> tuple[Iterator[_Leaf], float, str]:
    from .solver import solve

    def loss_at(number: int, kind: str, index: tuple[int, ...]) -> Callable[[float], float]:
        layer = problem.layers[number - 1]

        def at(value: float) -> float:
            array = getattr(layer, kind).copy()
            array[index] = value
            layers = list(problem.layers)
            layers[number - 1] = dataclasses.replace(layer, **{kind: array})
            return solve(dataclasses.replace(problem, layers=tuple(layers))).loss

        return at

    leaves = (_Leaf(p.name, p.value, p.gradient, loss_at(p.layer, "weights" if p.kind == "weights" else "bias",
                                                         p.index), solution.loss, p.fixed)
              for p in solution.parameters())
    n = len(problem.inputs)
    objective = (f"the loss C ({problem.loss.name}"
                 + (f", {problem.reduction} over {n} examples)" if not problem.single else ")"))
    return leaves, solution.loss, objective


# --------------------------------------------------------------------------- computation graphs

def _graph_leaves(problem: Any, solution: Any) -> tuple[Iterator[_Leaf], float, str]:
    from .graph import solve_graph

    output = problem.output
    gradients = solution.gradients()

    def parameter_at(name: str) -> Callable[[float], float]:
        def at(value: float) -> float:
            parameters = {**problem.parameters, name: value}
            return solve_graph(dataclasses.replace(problem, parameters=parameters)).total
        return at

    def input_at(name: str, example: int | None) -> Callable[[float], float]:
        def at(value: float) -> float:
            values = np.array(problem.inputs[name], dtype=np.float64)
            if example is None:
                values[:] = value
            else:
                values[example] = value
            solved = solve_graph(dataclasses.replace(problem, inputs={**problem.inputs, name: values}))
            return solved.total if example is None else float(solved.values[output][example])
        return at

    def leaves() -> Iterator[_Leaf]:
        for name, values in problem.inputs.items():
            if name in problem.varying:
                for example, slope in enumerate(np.atleast_1d(solution.grads[name])):
                    yield _Leaf(name, float(values[example]), float(slope), input_at(name, example),
                                float(solution.values[output][example]), example=example)
            else:
                yield _Leaf(name, float(values[0]), float(gradients[name]), input_at(name, None),
                            solution.total)
        for name, value in problem.parameters.items():
            yield _Leaf(name, float(value), float(gradients[name]), parameter_at(name),
                        solution.total)

    if problem.single:
        objective = f"the output {output}"
    else:
        objective = (f"the output {output}, {problem.reduction} over {problem.examples} examples "
                     f"(an input given per example: that example's {output})")
    return leaves(), solution.total, objective


# --------------------------------------------------------------------------- a student's values

def student_values(compare: Mapping[str, Any], leaves: Sequence[_Leaf]) -> dict[tuple[str, int | None], float]:
    """A student's gradients by (name, example): ``NAME`` or ``gradients.NAME`` keys, a number
    each (a list of one per example for a graph input given per example)."""
    from .problem import describe, did_you_mean

    per_example = {leaf.name for leaf in leaves if leaf.example is not None}
    names = list(dict.fromkeys(leaf.name for leaf in leaves))
    result: dict[tuple[str, int | None], float] = {}
    for key, value in compare.items():
        name = str(key).strip()
        name = name.removeprefix("gradients.").strip()
        if name not in names:
            shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
            raise AnswerError(f"{key}: unknown parameter{did_you_mean(name, names)}; the problem has: {shown}")
        if name in per_example:
            count = sum(leaf.name == name for leaf in leaves)
            if not isinstance(value, list) or len(value) != count:
                raise AnswerError(f"{key}: expected a list of {count} numbers (∂/∂{name} for each "
                                  f"example), got {describe(value)}")
            for example, item in enumerate(value):
                result[(name, example)] = _number(item, f"{key}[{example}]")
        else:
            result[(name, None)] = _number(value, str(key))
    return result


def _number(value: Any, where: str) -> float:
    from .problem import describe

    if isinstance(value, bool) or value is None:
        raise AnswerError(f"{where}: expected a number, got {describe(value)}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise AnswerError(f"{where}: expected a number, got {describe(value)}") from None
    if not math.isfinite(number):
        raise AnswerError(f"{where}: expected a finite number, got {value}")
    return number
