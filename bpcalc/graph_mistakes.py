"""The mistakes of computation-graph homework, as changes to the chain rule.

Where a value fans out, its gradient is the sum of what flows back through every use;
the classic errors leave a use out (one path of a fan-out, one time step of a shared
weight), stop at the local derivative ∂u/∂x instead of the whole chain, flip a sign, or
take the SGD step the wrong way. Each candidate is recomputed from the solution's own
per-use contributions (:meth:`bpcalc.graph.GraphSolution.contribution`), so it holds on
any graph, and says in one sentence which step it points at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .errors import BpcalcError
from .mistakes import sgd_mistakes, sgd_old_value
from .numbers import format_number
from .paths import resolve, split

Candidate = tuple[str, float, str]          # (mistake name, value, sentence)


def candidates(solution: Any, path: str) -> list[Candidate]:
    """Every (mistake, value, sentence) for a path of a graph solution, right value excluded."""
    try:
        parts = split(path)
    except BpcalcError:
        return []
    found = list(_for_path(solution, parts))
    exact = _exact(solution, path)
    seen: set[tuple[str, float]] = set()
    result = []
    for name, value, sentence in found:
        value = float(value)
        if not np.isfinite(value) or (name, value) in seen:
            continue
        if exact is not None and np.isclose(value, exact, rtol=1e-9, atol=1e-15):
            continue
        seen.add((name, value))
        result.append((name, value, sentence))
    return result


def _exact(solution: Any, path: str) -> float | None:
    try:
        value = resolve(solution.to_dict(), path)
    except BpcalcError:
        return None
    return float(value) if isinstance(value, (int, float)) else None


def _for_path(solution: Any, parts: list) -> Iterator[Candidate]:
    problem = solution.problem
    names = set(problem.leaves) | {node.name for node in problem.nodes}
    index = parts[-1] if isinstance(parts[-1], int) else None
    words = [p for p in parts if not isinstance(p, int)]
    if len(words) == 2 and words[0] == "gradients" and words[1] in names:
        name = words[1]
        reduce = _reducer(solution, name, index, per_example=name in problem.varying)
        yield from gradient_mistakes(solution, name, reduce)
    elif len(words) == 3 and words[0] == "nodes" and words[2] == "grad" and words[1] in names:
        name = words[1]
        yield from gradient_mistakes(solution, name, _reducer(solution, name, index, per_example=True))
    elif len(words) == 2 and words[0] == "updated" and words[1] in problem.parameters \
            and problem.learning_rate is not None:
        yield from update_mistakes(solution, words[1])


def _reducer(solution: Any, name: str, index: int | None, *, per_example: bool) -> Callable[[Any], float]:
    """How a per-example array becomes the number at the path: one example, or the reduction."""
    problem = solution.problem

    def reduce(values: Any) -> float:
        values = np.broadcast_to(np.asarray(values, dtype=np.float64), (problem.examples,))
        if per_example:
            return float(values[index or 0])
        return float(values.mean() if problem.reduction == "mean" else values.sum())

    return reduce


def gradient_mistakes(solution: Any, name: str, reduce: Callable[[Any], float]) -> Iterator[Candidate]:
    problem = solution.problem
    out = problem.output
    users = [u for u in solution.users.get(name, ()) if (u, name) in solution.local]
    right = reduce(solution.grads[name])
    yield "sign", -right, "has the wrong sign: check the sign of each local derivative in the chain."
    shared = name in problem.parameters
    for user in users:
        others = [u for u in users if u != user]
        through = reduce(solution.contribution(user, name))
        if others:
            listed = ", ".join(others)
            if shared:
                sentence = (f"is {name}'s contribution through {user} only; {name} is shared (used by "
                            f"{', '.join(users)}), and ∂{out}/∂{name} adds the contributions of every use "
                            "(every time step, in a recurrent network).")
                yield "one_use_of_shared_weight", through, sentence
            else:
                sentence = (f"is the gradient through {user} only; {name} also reaches {out} through "
                            f"{listed}: where a value fans out, add the gradients of all its uses.")
                yield "one_path_of_fan_out", through, sentence
            if len(users) > 2:
                rest = reduce(sum(solution.contribution(u, name) for u in others))
                yield "path_left_out", rest, (f"leaves out the path through {user}: ∂{out}/∂{name} "
                                              f"adds the gradients through all of {', '.join(users)}.")
        if user != out:
            local = reduce(solution.local[(user, name)])
            outer = reduce(solution.grads[user])
            yield "local_derivative_only", local, (
                f"is ∂{user}/∂{name}, the local derivative only; the chain rule multiplies it by "
                f"∂{out}/∂{user} = {format_number(outer, 4)}: ∂{out}/∂{name} = ∂{out}/∂{user}·∂{user}/∂{name}"
                + (" (summed over the uses)." if others else "."))


def update_mistakes(solution: Any, name: str) -> Iterator[Candidate]:
    problem = solution.problem
    out = problem.output
    old, rate = problem.parameters[name], problem.learning_rate
    gradient = solution.gradients()[name]
    value, sentence = sgd_old_value(name, old, solution.updated()[name], out)
    yield "old_value", value, sentence
    for value, sentence in sgd_mistakes(old, gradient, rate, out):
        yield "update", value, sentence
    reduce = _reducer(solution, name, None, per_example=False)
    for mistake, wrong, why in gradient_mistakes(solution, name, reduce):
        yield mistake, old - rate * wrong, f"is {name} − η·g with a gradient g that {why}"
