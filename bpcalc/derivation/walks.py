"""The two walks through a solved problem: the whole derivation, and the chain of one
parameter (``--param``), with the intro that says how to read them."""

from __future__ import annotations

import os
from ..errors import BpcalcError
from ..expr import Partial, Sym
from ..problem import Problem, did_you_mean
from ..solver import Parameter, Solution
from .cautions import cautions
from .equations import SCALAR_WIDTH, Builder, layer_parameters
from .model import DEFAULT_DIGITS, Derivation, Math, Prose, equation
from .notation import Names

MAX_STEPS = 4000            # beyond this a derivation is no longer something to read


def derive(problem: Problem, solution: Solution, *, scalars: bool | None = None,
           param: str | None = None, digits: int = DEFAULT_DIGITS) -> Derivation:
    """The derivation of a solved problem: forward pass, BP1, BP2, BP3/BP4 and the update
    (per example, then combined, for a batch). ``param`` gives only the chain that the
    gradient of that parameter needs; ``scalars`` (default: on for layers of at most
    SCALAR_WIDTH neurons) adds every scalar entry after each vector form. Only what is
    shown is built: a wide layer costs its vector steps, not one step per weight.
    A computation graph is derived node by node (:mod:`~bpcalc.derivation.graphs`)."""
    _same_problem(problem, solution)
    if getattr(problem, "kind", None) == "graph":
        from .graphs import derive_graph

        return derive_graph(problem, solution, param=param, digits=digits)
    regularized = (problem, solution) if getattr(problem, "l2", 0.0) else None
    if regularized is not None:       # C₀'s derivation first, then the penalty's steps
        import dataclasses

        from ..solver import solve

        problem = dataclasses.replace(problem, l2=0.0)
        solution = solve(problem)
    names = Names(problem)
    if scalars is None:
        scalars = auto_scalars(problem)
    title = problem.title or problem.source or "Problem"
    if param is not None:
        parameter = find_parameter(solution, param)
        builder = Builder(problem, solution, names, digits, scalars=True, vectors=False)
        if regularized is not None:
            builder.penalise(*regularized)
        builder.chain(parameter)
        return builder.finish(f"{title}: ∂C/∂{param}", intro(problem, names, digits), param, cautions(builder))
    estimate = estimated_steps(problem, scalars)
    if estimate > MAX_STEPS:
        raise BpcalcError(f"{problem.source or '<problem>'}: written out entry by entry this derivation "
                          f"would have about {estimate:,} steps; use --no-scalars, or --param NAME for "
                          "the chain of one parameter")
    builder = Builder(problem, solution, names, digits, scalars, vectors=not names.chain)
    if regularized is not None:
        builder.penalise(*regularized)
    for x in range(len(problem.inputs)):
        builder.forward(x)
        builder.output_error(x)
        builder.backpropagate(x)
        builder.gradients(x)
    if builder.multi:
        builder.combine()
    builder.regularize()
    builder.updates()
    return builder.finish(title, intro(problem, names, digits), None, cautions(builder))


def explain(problem: Problem | str | os.PathLike[str], param: str | None = None, *,
            scalars: bool | None = None, digits: int = DEFAULT_DIGITS) -> Derivation:
    """The derivation of a problem (a :class:`~bpcalc.problem.Problem` or a file name),
    solved on the way: ``bpcalc.explain("problems/simple_network.yaml", param="w2")``."""
    from ..problem import load
    from ..solver import solve

    if isinstance(problem, (str, os.PathLike)):
        problem = load(problem)
    return derive(problem, solve(problem), scalars=scalars, param=param, digits=digits)


def auto_scalars(problem: Problem) -> bool:
    widths = [problem.inputs.shape[1], *(layer.size for layer in problem.layers)]
    return max(widths) <= SCALAR_WIDTH


def estimated_steps(problem: Problem, scalars: bool) -> int:
    per_example = 0
    for layer in problem.layers:
        entries = layer.size * 5 + layer.weights.size + (layer.size if layer.bias is not None else 0)
        per_example += entries if scalars else 8
    examples = len(problem.inputs)
    total_parameters = sum(layer.weights.size + (layer.size if layer.bias is not None else 0)
                           for layer in problem.layers)
    return per_example * examples + (2 * total_parameters if scalars else 4 * len(problem.layers))


def find_parameter(solution: Solution, name: str) -> Parameter:
    """The parameter called ``name``, or a one-line error listing the names."""
    problem = solution.problem
    names: list[str] = []
    for l, layer in enumerate(problem.layers, start=1):
        given = layer.weight_names.flat() + (layer.bias_names.flat() if layer.bias_names is not None else [])
        if name in given:
            return next(p for p in layer_parameters(problem, solution, l) if p.name == name)
        names += given[: max(0, 21 - len(names))]
    shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
    where = problem.source or "<problem>"
    everything = [n for layer in problem.layers for n in layer.weight_names.flat()[:200]]
    raise BpcalcError(f"{where}: no parameter named {name!r}{did_you_mean(name, everything)}; "
                      f"the parameters are: {shown}")


def intro(problem: Problem, names: Names, digits: int) -> tuple[Prose, ...]:
    lines: list[Prose] = []
    if names.chain:
        inputs = "x" if names.inputs == 1 else ", ".join(f"x{k + 1}" for k in range(names.inputs))
        zs = ", ".join(f"z{l}" for l in range(1, names.L + 1))
        hidden = [f"a{l}" for l in range(1, names.L)]
        hidden_text = ""
        if hidden:
            hidden_text = f"{', '.join(hidden)} the hidden activation{'s' if len(hidden) > 1 else ''}, "
        lines.append((f"Notation, as in the course: {inputs} the input, t the target, {zs} the weighted "
                      f"input{'s' if names.L > 1 else ''}, " + hidden_text + "y the output, ",
                      equation(names.delta(names.L, 0), Partial(Sym("C"), names.z(names.L, 0))),
                      f" the error term of layer {names.L} (and so on for each layer), and the "
                      "problem's own parameter names."))
    else:
        lines.append(("Notation (Nielsen): ", Math((Sym("z", "j", "l"),)), " and ", Math((Sym("a", "j", "l"),)),
                      " are the weighted input and activation of neuron j in layer l (",
                      equation(Sym("x"), Sym("a", sup="0")), " is the input), ",
                      Math((Sym("w", "jk", "l"),)), " is the weight from neuron k of layer l − 1 to neuron j "
                      "of layer l, ", Math((Sym("b", "j", "l"),)), " its bias, t the target and ",
                      equation(Sym("delta", "j", "l"), Partial(Sym("C"), Sym("z", "j", "l"))),
                      " the error term. Parameter names from the problem are given in the titles."))
    lines.append((f"Numbers are shown to {digits} significant digits, and redoing a step by hand with "
                  "the numbers it shows gives its result to the last digit shown: where rounding "
                  "would spoil that, the step shows its numbers with more digits. Every step is "
                  "computed at full precision; ≈ marks a rounded result.",))
    if len(problem.inputs) > 1:
        lines.append((f"{len(problem.inputs)} examples: the forward and backward passes are done for "
                      "each example x, with its own cost ", Math((Sym("C", "x"),)),
                      f"; the gradients of C are the {problem.reduction} of the per-example gradients.",))
    if problem.learning_rate is None:
        lines.append(("The problem gives no learning_rate, so there is no SGD update.",))
    return tuple(lines)


def _same_problem(problem: Problem, solution: Solution) -> None:
    if solution.problem is not problem:
        raise ValueError("the solution was computed for another problem: pass "
                         "derive(solution.problem, solution)")


__all__ = ["derive", "explain", "find_parameter", "auto_scalars", "estimated_steps", "intro", "MAX_STEPS"]
