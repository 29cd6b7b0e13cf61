"""The course's concept questions, answered with this network's own numbers: the four
equations (BP1–BP4), why BP2 uses the transpose and f′, and how f′ of a saturating
activation shrinks as |z| grows."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..activations import REGISTERED
from ..expr import Call, Expr, Hadamard, MatMul, Mul, Num, Partial, Sum, Sym, Transpose
from ..problem import Problem
from ..solver import Solution
from .equations import Builder
from .model import DEFAULT_DIGITS, Derivation, Math, Step, Table, equation
from .notation import Names
from .walks import MAX_STEPS, _same_problem, derive, estimated_steps

_F = "f"


def _f(argument: Expr, derivative: int = 0) -> Call:
    return Call(_F, (argument,), derivative)


def _generic() -> dict[str, tuple[Expr, Expr, Math, str]]:
    """Each equation in vector form, entry by entry, and in words."""
    def indexed(name: str, sub: str, sup: str) -> Sym:
        return Sym(name, sub, sup)

    return {
        "BP1": (Sym("delta", sup="L"), Hadamard(Partial(Sym("C"), Sym("a", sup="L")), _f(Sym("z", sup="L"), 1)),
                equation(indexed("delta", "j", "L"), Mul(Partial(Sym("C"), indexed("a", "j", "L")),
                                                         _f(indexed("z", "j", "L"), 1))),
                "the output error: how fast C changes with the output's weighted input"),
        "BP2": (Sym("delta", sup="l"),
                Hadamard(MatMul(Transpose(Sym("w", sup="l+1")), Sym("delta", sup="l+1")), _f(Sym("z", sup="l"), 1)),
                equation(indexed("delta", "j", "l"),
                         Mul(Sum(Mul(indexed("w", "kj", "l+1"), indexed("delta", "k", "l+1")), "k"),
                             _f(indexed("z", "j", "l"), 1))),
                "the error of a layer from the error of the next one"),
        "BP3": (Partial(Sym("C"), Sym("b", sup="l")), Sym("delta", sup="l"),
                equation(Partial(Sym("C"), indexed("b", "j", "l")), indexed("delta", "j", "l")),
                "a bias's gradient is the error term of its neuron"),
        "BP4": (Partial(Sym("C"), Sym("w", sup="l")), MatMul(Sym("delta", sup="l"), Transpose(Sym("a", sup="l-1"))),
                equation(Partial(Sym("C"), indexed("w", "jk", "l")),
                         Mul(indexed("a", "k", "l-1"), indexed("delta", "j", "l"))),
                "a weight's gradient is the activation it carries times the error of the neuron it feeds"),
    }


def concepts(problem: Problem, solution: Solution, digits: int = DEFAULT_DIGITS) -> Derivation:
    """The course's concept questions answered from this network: the four equations with
    this network's numbers, why BP2 uses the transpose and f′, and f′ shrinking with |z|."""
    _same_problem(problem, solution)
    names = Names(problem)
    full = derive(problem, solution, scalars=estimated_steps(problem, True) <= MAX_STEPS, digits=digits)
    b = Builder(problem, solution, names, digits, scalars=True, vectors=not names.chain)
    b.begin("The four equations of back-propagation")
    for rule, (lhs, general, entry, words) in _generic().items():
        b.add(f"{rule}, in general", lhs, general, None, rule, note=(f"{words}; entry by entry: ", entry))
        example = next((s for s in full.steps if s.rule == rule and s.value is not None
                        and (s.example in (None, 0))), None)
        if example is None and rule == "BP2":
            b.add("BP2 in this network", lhs, None, None, rule,
                  note=("this network has no hidden layer, so BP2 is never needed here",))
        elif example is not None:
            b.steps.append(Step(b.section, f"{rule} in this network: {example.title}", example.lhs,
                                example.general, example.substituted, example.value, rule,
                                note=example.note, indexed=example.indexed, key=example.key,
                                example=example.example, digits=digits, call=example.call))
    _know_first_example(b)
    b.noted.clear()
    _transpose_section(b, problem, solution)
    table = _slope_table(b, problem, solution)
    return Derivation(f"{problem.title or problem.source or 'Problem'}: concepts", tuple(b.steps), (),
                      tuple(b.sections), (), (table,), digits, None, True)


def _know_first_example(b: Builder) -> None:
    """Let the builder know the first example's z, a, f′ and δ, without showing the steps."""
    steps, sections = len(b.steps), list(b.sections)
    section = b.section
    b.forward(0)
    b.output_error(0)
    b.backpropagate(0)
    del b.steps[steps:]
    b.sections[:] = sections
    b.section = section
    b.dropped.clear()


def _transpose_section(b: Builder, problem: Problem, solution: Solution) -> None:
    names, L = b.names, len(problem.layers)
    b.begin("Why BP2 uses the transpose and f′, not f")
    if L < 2:
        bp2 = _generic()["BP2"]
        b.add("no hidden layer", Sym("delta", sup="l"), None, None, "BP2", note=(
            "this network has no hidden layer, so BP2 is never used. In general, ", equation(bp2[0], bp2[1]),
            ": z of neuron j reaches the cost only through a = f(z), whose slope is f′(z), and a "
            "feeds neuron k of the next layer through the weight in row k, column j",))
        return
    l, j, x = L - 1, 0, 0
    layer, following = problem.layers[l - 1], problem.layers[l]
    result, after = solution.layers[l - 1], solution.layers[l]
    d_next = after.delta[x]
    activation = layer.activation
    fp = activation.prime(result.z[[x]], **layer.params)[0]
    total = float(np.sum(following.weights[:, j] * d_next))
    right = b.entry(MatMul(Transpose(names.w(l + 1)), names.delta(l + 1)), (j,))
    b.add("the error term of a hidden neuron, right", names.delta(l, j),
          Mul(right, activation.call(names.z(l, j), 1)), result.delta[x, j], "BP2",
          key=b.key("delta", l, x, j), remember=False, note=(
              "z of this neuron reaches the cost only through its activation a = f(z): the chain rule "
              "multiplies by the slope ∂a/∂z = f′(z). And a feeds neuron k of the next layer through "
              "the weight in row k, column j of the next weight matrix, so the sum runs over the rows k "
              "of column j: a row of the transpose.",))
    b.add("wrong: f instead of f′", names.delta(l, j), Mul(right, activation.call(names.z(l, j))),
          total * result.a[x, j], "BP2", remember=False,
          note=("multiplying by the activation's value f(z) instead of its slope gives a different "
                "number: f(z) is how large the output is, not how fast it changes",))
    square = following.weights.shape[0] == following.weights.shape[1]
    if square and following.size > 1:
        wrong = b.entry(MatMul(names.w(l + 1), names.delta(l + 1)), (j,))
        value = float(np.sum(following.weights[j, :] * d_next)) * fp[j]
        b.add("wrong: the row of w instead of its column (no transpose)", names.delta(l, j),
              Mul(wrong, activation.call(names.z(l, j), 1)), value, "BP2", remember=False,
              note=("using the row of neuron j instead of its column sums the weights that feed "
                    "neuron j of the next layer, not the ones that neuron j of this layer feeds",))
    elif following.size == 1 and layer.size == 1:
        b.add("the transpose with one neuron per layer", names.delta(l, j), None, None, "BP2", remember=False,
              note=("with one neuron per layer, ", Math((Sym("w", "kj"),)), " and ", Math((Sym("w", "jk"),)),
                    " are the same single weight, so the transpose only matters once a layer has "
                    "several neurons",))
    else:
        b.add("wrong: the row of w instead of its column (no transpose)", names.delta(l, j), None, None, "BP2",
              remember=False,
              note=(f"here the next weight matrix is {following.weights.shape[0]}×{following.weights.shape[1]}: "
                    "without the transpose the sum would not even match up (a row has one weight per "
                    "neuron of this layer, δ of the next layer has one entry per neuron there)",))


def _slope_table(b: Builder, problem: Problem, solution: Solution) -> Table:
    """f′ at this problem's own z, for an activation that saturates (the course asks it of σ)."""
    names = b.names
    used = [layer.activation for layer in problem.layers if layer.activation.saturates]
    activation = used[0] if used else next(a for a in REGISTERED if a.saturates)
    prime_name = Math((activation.call(Sym("z"), 1),))
    b.begin(f"{activation.unicode}′(z) shrinks as |z| grows")
    rows: list[tuple[Any, float]] = []
    seen: set[float] = set()
    layers = [l for l, layer in enumerate(problem.layers, start=1) if layer.activation is activation]
    for l in layers or range(1, len(problem.layers) + 1):
        result = solution.layers[l - 1]
        for x in range(min(len(problem.inputs), 3)):
            for j in range(min(problem.layers[l - 1].size, 4)):
                z = float(result.z[x, j])
                label: Any = Math((names.z(l, j),))
                if len(problem.inputs) > 1:
                    label = (label, f", example {x + 1}")
                rows.append((label, z))
                seen.add(z)
    for z in (0.0, 1.0, 2.0, 4.0, 6.0, 10.0):
        if z not in seen:
            rows.append(("for comparison", z))
    rows.sort(key=lambda row: abs(row[1]))
    peak = float(activation.prime(np.array([0.0]))[0])
    table_rows = []
    for label, z in rows:
        value = float(activation(np.array([z]))[0])
        prime = float(activation.prime(np.array([z]))[0])
        table_rows.append((label, z, value, prime, prime / peak))
    zero = Num(0)
    b.learn(activation.call(zero), float(activation(np.array([0.0]))[0]), everywhere=True)
    b.add("the largest slope", activation.call(zero, 1), activation.prime_formula(zero), peak, "derivative",
          remember=False, note=(
              equation(activation.call(Sym("z"), 1), activation.prime_formula()),
              f" is largest at z = 0; as |z| grows {activation.unicode}(z) flattens out and its slope tends "
              "to 0: its magnitude becomes small (the activation saturates), and every δ that passes "
              "through such a neuron is scaled down with it."
              + ("" if layers else f" This network has no {activation.name} layer; the table uses its z "
                 "values all the same."),))
    return Table(b.section, f"{activation.unicode}′ at this problem's own z",
                 ("", "z", Math((activation.call(Sym("z")),)), prime_name,
                  f"{activation.unicode}′(z) / {activation.unicode}′(0)"),
                 tuple(table_rows), note=(f"{activation.unicode}′(0) is the largest possible slope.",))
