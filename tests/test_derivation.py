"""Derivations (``bpcalc explain``): every step's arithmetic holds, as shown.

For every shipped problem and for random networks (every activation and loss, several
examples, both reductions), every step with numbers is checked three ways:

1. its substituted tree, evaluated with :func:`bpcalc.expr.evaluate` at the full-precision
   values, gives the step's value (relative 1e-9), and the result shown is that value
   formatted with :func:`bpcalc.derivation.shown` (format_number, with more digits where a
   non-integer would otherwise show as an integer);
2. the numbers as *displayed* are consistent with the result as displayed: each shown
   number stands for the interval of values that round to it, interval arithmetic carries
   those intervals through the tree, and the outcome must overlap the interval of the
   shown result. This is sound (the true values lie in every interval), so it never
   fails on cancellation; it fails when a displayed number is not the one used;
3. the value agrees with the solver's arrays wherever the step names a solution path.

The reference homework's ``--param w2`` chain is checked against numbers worked by hand.
"""

from __future__ import annotations

import glob
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from bpcalc.derivation import (
    Derivation, Step, concepts, derive, latex, prose_unicode, shown, unicode, _TEXT_LATEX,
)
from bpcalc.errors import BpcalcError
from bpcalc.expr import (
    Add, Call, Div, Hadamard, MatMul, Matrix, Mul, Neg, Num, Pow, Sub, Sym, Transpose,
    Vector, evaluate,
)
from bpcalc.numbers import format_number, written_precision
from bpcalc.paths import resolve
from bpcalc.problem import Problem, load
from bpcalc.solver import solve

from networks import networks

ROOT = Path(__file__).resolve().parent.parent
PROBLEM_FILES = sorted(glob.glob(str(ROOT / "problems" / "*.yaml")))
IDS = [Path(p).name for p in PROBLEM_FILES]


# ================================================================ interval arithmetic

class Box:
    """An interval per entry: lo ≤ x ≤ hi (NumPy arrays of the same shape)."""

    def __init__(self, lo, hi) -> None:
        self.lo, self.hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)

    @staticmethod
    def hull(*candidates):
        stack = np.stack(np.broadcast_arrays(*candidates))
        with np.errstate(invalid="ignore"):
            return Box(np.nanmin(stack, axis=0), np.nanmax(stack, axis=0))


def shown_interval(node: Num) -> Box:
    """The values that display as ``node.text``; exact when the text is the value itself."""
    value = float(node.value)
    if node.text is None:
        return Box(value, value)
    try:
        centre = float(node.text)
    except ValueError:          # "½" and the like are exact
        return Box(value, value)
    if centre == value:
        return Box(value, value)
    decimals, _ = written_precision(node.text)
    half = 0.5 * 10.0 ** -decimals
    return Box(centre - half, centre + half)


def _sigma(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


MONOTONE = {"sigma": _sigma, "sigmoid": _sigma, "tanh": np.tanh, "exp": np.exp,
            "relu": lambda x: np.maximum(x, 0.0), "softplus": lambda x: np.logaddexp(0.0, x),
            "ln": lambda x: np.log(np.where(np.asarray(x) > 0, x, np.nan))}
STEP_UP = {"relu": lambda x: (np.asarray(x) > 0).astype(float)}
HUMP = {"sigma": lambda x: _sigma(x) * (1 - _sigma(x)), "tanh": lambda x: 1 - np.tanh(x) ** 2}


def box(node) -> Box:
    """Interval extension of an expression over its displayed numbers."""
    if isinstance(node, Num):
        return shown_interval(node)
    if isinstance(node, Neg):
        inner = box(node.operand)
        return Box(-inner.hi, -inner.lo)
    if isinstance(node, Add):
        a, b = box(node.left), box(node.right)
        return Box(a.lo + b.lo, a.hi + b.hi)
    if isinstance(node, Sub):
        a, b = box(node.left), box(node.right)
        return Box(a.lo - b.hi, a.hi - b.lo)
    if isinstance(node, (Mul, Hadamard)):
        a, b = box(node.left), box(node.right)
        return Box.hull(a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi)
    if isinstance(node, Div):
        a, b = box(node.left), box(node.right)
        if np.any((b.lo <= 0) & (b.hi >= 0)):
            return Box(np.full(np.broadcast(a.lo, b.lo).shape, -np.inf),
                       np.full(np.broadcast(a.lo, b.lo).shape, np.inf))
        return Box.hull(a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi)
    if isinstance(node, Pow):
        base, exponent = box(node.base), float(evaluate(node.exponent))
        assert exponent == int(exponent), "only whole powers appear in derivations"
        lo, hi = base.lo ** int(exponent), base.hi ** int(exponent)
        if int(exponent) % 2 == 0:
            straddles = (base.lo <= 0) & (base.hi >= 0)
            return Box(np.where(straddles, 0.0, np.minimum(lo, hi)), np.maximum(lo, hi))
        return Box(lo, hi)
    if isinstance(node, Call):
        (argument,) = node.args
        inner = box(argument)
        if node.derivative == 0:
            f = MONOTONE[node.name]
            return Box(f(inner.lo), f(inner.hi))
        if node.name in STEP_UP:
            f = STEP_UP[node.name]
            return Box(f(inner.lo), f(inner.hi))
        f = HUMP[node.name]
        ends = np.minimum(f(inner.lo), f(inner.hi))
        top = np.where((inner.lo <= 0) & (inner.hi >= 0), f(0.0), np.maximum(f(inner.lo), f(inner.hi)))
        return Box(ends, top)
    if isinstance(node, Vector):
        parts = [box(item) for item in node.items]
        return Box([p.lo for p in parts], [p.hi for p in parts])
    if isinstance(node, Matrix):
        parts = [[box(c) for c in row] for row in node.rows]
        return Box([[c.lo for c in row] for row in parts], [[c.hi for c in row] for row in parts])
    if isinstance(node, Transpose):
        inner = box(node.operand)
        return Box(inner.lo.T, inner.hi.T)
    if isinstance(node, MatMul):
        a, b = box(node.left), box(node.right)
        a_lo, a_hi = (a.lo[None, :], a.hi[None, :]) if a.lo.ndim == 1 else (a.lo, a.hi)
        b_lo, b_hi = (b.lo[:, None], b.hi[:, None]) if b.lo.ndim == 1 else (b.lo, b.hi)
        products = Box.hull(*(x[:, :, None] * y[None, :, :] for x in (a_lo, a_hi) for y in (b_lo, b_hi)))
        lo, hi = products.lo.sum(axis=1), products.hi.sum(axis=1)
        if a.lo.ndim == 1:
            lo, hi = lo[0], hi[0]
        if b.lo.ndim == 1:
            lo, hi = lo[..., 0], hi[..., 0]
        return Box(lo, hi)
    raise TypeError(f"no interval rule for {type(node).__name__}")


def result_interval(step: Step) -> Box:
    values = np.atleast_1d(np.asarray(step.value, dtype=float))
    parts = [shown_interval(Num(float(v), text=shown(v, step.digits))) for v in values.ravel()]
    shape = np.shape(step.value)
    return Box(np.reshape([p.lo for p in parts], shape), np.reshape([p.hi for p in parts], shape))


# ================================================================ the checks

def nums(node) -> list[Num]:
    if isinstance(node, Num):
        return [node]
    children = []
    for name in ("left", "right", "operand", "base", "exponent"):
        child = getattr(node, name, None)
        if child is not None:
            children.append(child)
    children += list(getattr(node, "args", ())) + list(getattr(node, "items", ()))
    children += [c for row in getattr(node, "rows", ()) for c in row]
    return [n for child in children for n in nums(child)]


def check_step(step: Step, document: dict, digits: int | None = None) -> None:
    """Everything a derivation promises about one step (see the module docstring). Numbers
    put into the step are shown with ``digits``; its result with ``step.digits``, which an
    SGD update raises until the new value differs from the old one as shown."""
    digits = step.digits if digits is None else digits
    where = f"{step.section} / {step.title}: {step.equation_unicode()}"
    if step.value is None:
        assert step.substituted is None, where
        return
    value = np.asarray(step.value, dtype=float)
    assert np.all(np.isfinite(value)), where
    # the result shown is the value, formatted by the one formatter
    expected = [shown(v, step.digits) for v in np.ravel(value)]
    assert [n.text for n in nums(step.result)] == expected, where
    # every displayed number in the substituted tree is its own value, rounded
    for n in nums(step.substituted) if step.substituted is not None else []:
        if n.text is not None and n.text not in ("½",):
            assert n.text == shown(n.value, digits), where
    if step.substituted is not None:
        got = np.asarray(evaluate(step.substituted), dtype=float)
        assert got.shape == value.shape, where
        np.testing.assert_allclose(got, value, rtol=1e-9, atol=1e-12, err_msg=where)
        computed, displayed = box(step.substituted), result_interval(step)
        slack = 1e-9 * np.maximum(1.0, np.abs(value))
        assert np.all(computed.lo - slack <= displayed.hi) and np.all(displayed.lo <= computed.hi + slack), (
            f"{where}: the shown numbers give [{computed.lo}, {computed.hi}], "
            f"the shown result stands for [{displayed.lo}, {displayed.hi}]")
    if step.key is not None:
        np.testing.assert_allclose(np.asarray(resolve(document, step.key), dtype=float), value,
                                   rtol=1e-12, atol=0, err_msg=where)


def check_derivation(derivation: Derivation, solution) -> None:
    document = solution.to_dict()
    assert derivation.steps, derivation.title
    assert not [w for w in derivation.warnings if w.kind == "arithmetic"], derivation.title
    for step in derivation.steps:
        check_step(step, document, derivation.digits)
        if step.rule != "SGD":
            assert step.digits == derivation.digits
    for caution in derivation.warnings:
        assert caution.step is None or 0 <= caution.step < len(derivation.steps)


def all_derivations(problem: Problem, solution):
    yield derive(problem, solution)
    yield derive(problem, solution, scalars=True, digits=3)
    yield derive(problem, solution, scalars=False, digits=6)
    for parameter in solution.parameters():
        yield derive(problem, solution, param=parameter.name)
    yield concepts(problem, solution)


@pytest.mark.parametrize("path", PROBLEM_FILES, ids=IDS)
def test_every_step_of_every_shipped_problem_holds(path):
    problem = load(path)
    solution = solve(problem)
    for derivation in all_derivations(problem, solution):
        check_derivation(derivation, solution)


@pytest.mark.parametrize("path", PROBLEM_FILES, ids=IDS)
def test_to_dict_is_strict_json(path):
    import json

    problem = load(path)
    solution = solve(problem)
    for derivation in all_derivations(problem, solution):
        document = json.loads(json.dumps(derivation.to_dict(), allow_nan=False))
        assert len(document["steps"]) == len(derivation.steps)


@pytest.mark.parametrize("path", PROBLEM_FILES, ids=IDS)
def test_every_solution_value_is_explained(path):
    """z, a, δ of every layer and every gradient and update appear as some step's value."""
    problem = load(path)
    solution = solve(problem)
    keys = {step.key for step in derive(problem, solution, scalars=True).steps}
    for parameter in solution.parameters():
        assert f"gradients.{parameter.name}" in keys
        if problem.learning_rate is not None:
            whole = f"layers[{parameter.layer}].{'w' if parameter.kind == 'weights' else 'b'}_updated"
            assert f"updated.{parameter.name}" in keys or (parameter.fixed and whole in keys)
    assert "loss" in keys
    for l, layer in enumerate(problem.layers, start=1):
        for x in range(len(problem.inputs)):
            for j in range(layer.size):
                prefix = "" if problem.single else f"[{x}]"
                for name in ("z", "a", "delta"):
                    assert f"layers[{l}].{name}{prefix}[{j}]" in keys, (name, l, x, j)


# ------------------------------------------------------------------ random networks

def _solved(doc: dict):
    problem = Problem.from_dict(doc)
    try:
        return problem, solve(problem)
    except BpcalcError:
        return problem, None         # e.g. a cross-entropy of an output that is exactly 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_layers=3, max_width=4, max_examples=3), st.integers(2, 7))
def test_every_step_of_random_networks_holds(doc, digits):
    note(repr(doc))
    problem, solution = _solved(doc)
    if solution is None:
        return
    check_derivation(derive(problem, solution, digits=digits), solution)
    check_derivation(derive(problem, solution, scalars=not _auto(problem), digits=digits), solution)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_layers=3, max_width=4, max_examples=3), st.data())
def test_param_chains_of_random_networks_hold(doc, data):
    note(repr(doc))
    problem, solution = _solved(doc)
    if solution is None:
        return
    parameter = data.draw(st.sampled_from([p.name for p in solution.parameters()]))
    derivation = derive(problem, solution, param=parameter)
    check_derivation(derivation, solution)
    final = [s for s in derivation.steps if s.key == f"gradients.{parameter}"]
    assert final, "the chain ends with the gradient of the parameter"
    assert final[-1].value == pytest.approx(solution.gradients()[parameter], rel=1e-12, abs=0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_layers=3, max_width=4, max_examples=3))
def test_concepts_of_random_networks_hold(doc):
    problem, solution = _solved(doc)
    if solution is not None:
        check_derivation(concepts(problem, solution), solution)


def _auto(problem: Problem) -> bool:
    return max(problem.inputs.shape[1], *(layer.size for layer in problem.layers)) <= 5


def test_interval_check_catches_a_wrong_display():
    """The displayed-numbers check is not vacuous: a number shown with the wrong digits fails."""
    honest = Mul(Num(0.24048908, text="0.2405"), Num(0.18265408, text="0.1827"))
    step = Step("s", "t", Sym("q"), None, honest, 0.24048908 * 0.18265408, "x")
    check_step(step, {})
    lying = Mul(Num(0.24048908, text="0.2450"), Num(0.18265408, text="0.1827"))
    with pytest.raises(AssertionError):
        assert_displays_agree(Step("s", "t", Sym("q"), None, lying, 0.24048908 * 0.18265408, "x"))


def assert_displays_agree(step: Step) -> None:
    computed, displayed = box(step.substituted), result_interval(step)
    assert np.all(computed.lo <= displayed.hi) and np.all(displayed.lo <= computed.hi)


def test_displayed_arithmetic_is_tight_on_the_reference():
    """Without cancellation the interval check is meaningful: on the reference homework the
    shown numbers pin every result down to a few units of its last shown digit."""
    problem = load(ROOT / "problems" / "simple_network.yaml")
    solution = solve(problem)
    for step in derive(problem, solution).steps:
        if step.substituted is None:
            continue
        computed = box(step.substituted)
        decimals, _ = written_precision(shown(step.value, step.digits))
        unit = 10.0 ** -decimals
        assert float(np.max(computed.hi - computed.lo)) <= 12 * unit, step.equation_unicode()


# ================================================================ the reference chain

def _reference():
    problem = load(ROOT / "problems" / "simple_network.yaml")
    return problem, solve(problem)


def test_reference_param_w2_is_the_course_chain():
    # By hand: z1 = 0.01·3, a1 = 0.03, z2 = −5·0.03 − 1 = −1.15, y = 1/(1 + e^1.15),
    # σ′(z2) = y(1 − y), ∂C/∂w2 = (y − t)·σ′(z2)·a1.
    y = 1.0 / (1.0 + math.exp(1.15))
    sigma_prime = y * (1.0 - y)
    gradient = (y - 1.0) * sigma_prime * 0.03
    assert y == pytest.approx(0.24049, abs=5e-6)
    assert sigma_prime == pytest.approx(0.18265, abs=5e-6)
    assert gradient == pytest.approx(-0.0041618, abs=5e-8)

    problem, solution = _reference()
    derivation = derive(problem, solution, param="w2")
    final = derivation.steps[-2]
    assert final.key == "gradients.w2"
    assert unicode(final.lhs) == "∂C/∂w2"
    assert unicode(final.chain) == "∂C/∂y·∂y/∂z2·∂z2/∂w2"
    assert unicode(final.general) == "(y − t)·σ′(z2)·a1"
    assert unicode(final.substituted) == "(0.2405 − 1)·0.1827·0.03"
    assert final.result_text == "−0.004162"
    assert final.value == pytest.approx(gradient, rel=1e-12)
    assert final.equation_unicode() == (
        "∂C/∂w2 = ∂C/∂y·∂y/∂z2·∂z2/∂w2 = (y − t)·σ′(z2)·a1 = (0.2405 − 1)·0.1827·0.03 ≈ −0.004162")
    # the factors are exactly the hand values, not rounded ones
    factors = [n.value for n in nums(final.substituted)]
    assert factors[0] == pytest.approx(y, rel=1e-15) and factors[2] == pytest.approx(sigma_prime, rel=1e-15)
    assert factors[3] == 0.03
    # only what the chain needs: the forward pass to y, ∂C/∂y, σ′(z2), the chain, the update
    assert [s.rule for s in derivation.steps] == ["forward"] * 4 + ["gradient", "derivative", "chain", "SGD"]
    assert "σ′(z) = σ(z)·(1 − σ(z))" in prose_unicode(derivation.steps[5].note)
    assert derivation.steps[-1].equation_unicode() == "w2 ← w2 − η·∂C/∂w2 = (−5) − 0.1·(−0.004162) ≈ −4.9996"


def test_reference_param_w1_and_b_share_the_chain():
    problem, solution = _reference()
    w1 = derive(problem, solution, param="w1").steps[-2]
    assert unicode(w1.chain) == "∂C/∂y·∂y/∂z2·∂z2/∂a1·∂a1/∂z1·∂z1/∂w1"
    assert unicode(w1.general) == "(y − t)·σ′(z2)·w2·ReLU′(z1)·x"
    assert unicode(w1.substituted) == "(0.2405 − 1)·0.1827·(−5)·1·3"
    assert w1.result_text == "2.081"
    b = derive(problem, solution, param="b").steps[-2]
    assert unicode(b.general) == "(y − t)·σ′(z2)·1"
    assert b.result_text == "−0.1387"


def test_reference_full_walk():
    problem, solution = _reference()
    derivation = derive(problem, solution)
    lines = [s.equation_unicode() for s in derivation.steps]
    assert lines[:5] == [
        "z1 = w1·x = 0.01·3 = 0.03",
        "a1 = ReLU(z1) = ReLU(0.03) = 0.03",
        "z2 = w2·a1 + b = (−5)·0.03 + (−1) = −1.15",
        "y = σ(z2) = σ(−1.15) ≈ 0.2405",
        "C = ½·(y − t)² = ½·(0.2405 − 1)² ≈ 0.2884",
    ]
    assert "δ₂ = (y − t)·σ′(z2) = (0.2405 − 1)·0.1827 ≈ −0.1387" in lines
    assert "δ₁ = w2·δ₂·ReLU′(z1) = (−5)·(−0.1387)·1 ≈ 0.6936" in lines
    assert "∂C/∂w1 = x·δ₁ = 3·0.6936 ≈ 2.081" in lines
    assert "∂C/∂b = δ₂ ≈ −0.1387" in lines
    rules = [s.rule for s in derivation.steps]
    assert rules.index("BP1") < rules.index("BP2") < rules.index("BP4") < rules.index("SGD")
    assert not derivation.warnings
    titles = {s.title for s in derivation.steps}
    assert {"gradient of w1", "gradient of w2", "gradient of b"} <= titles
    assert unicode(next(s for s in derivation.steps if s.title == "gradient of w2").indexed) == "w²₁₁"


def test_unknown_param_says_what_exists():
    problem, solution = _reference()
    with pytest.raises(BpcalcError) as error:
        derive(problem, solution, param="w3")
    message = str(error.value)
    assert "\n" not in message
    assert "no parameter named 'w3'" in message and message.endswith("the parameters are: w1, w2, b")
    with pytest.raises(BpcalcError, match=r"'w_2' \(did you mean 'w2'\?\)"):
        derive(problem, solution, param="w_2")


# ================================================================ renderings

def test_unicode_and_latex_of_a_few_steps():
    problem, solution = _reference()
    steps = derive(problem, solution).steps
    delta = next(s for s in steps if s.rule == "BP1")
    assert latex(delta.general) == r"\left(y - t\right) \cdot \sigma'(\mathrm{z2})"
    assert delta.equation_latex() == (r"\delta_{2} = \left(y - t\right) \cdot \sigma'(\mathrm{z2}) = "
                                      r"\left(0.2405 - 1\right) \cdot 0.1827 \approx -0.1387")
    mazur = load(ROOT / "problems" / "mazur_2_2_2.yaml")
    steps = derive(mazur, solve(mazur)).steps
    bp2 = next(s for s in steps if s.rule == "BP2" and s.key == "layers[1].delta[0]")
    assert unicode(bp2.lhs) == "δ¹₁" and latex(bp2.lhs) == r"\delta^{1}_{1}"
    assert unicode(bp2.general) == "(w²₁₁·δ²₁ + w²₂₁·δ²₂)·σ′(z¹₁)"
    assert latex(bp2.general) == (r"\left(w^{2}_{11} \cdot \delta^{2}_{1} + w^{2}_{21} \cdot \delta^{2}_{2}\right)"
                                  r" \cdot \sigma'(z^{1}_{1})")
    vector = next(s for s in steps if s.rule == "BP2" and s.key == "layers[1].delta")
    juxtaposed = unicode(MatMul(Sym("a"), Sym("b")))[1:-1]      # however expr spaces a product
    assert unicode(vector.general) == f"((w²)ᵀ{juxtaposed}δ²) ⊙ σ′(z¹)"
    w5 = next(s for s in steps if s.title == "gradient of w5")
    assert unicode(w5.indexed) == "w²₁₁" and w5.equation_unicode() == "∂C/∂w²₁₁ = a¹₁·δ²₁ = 0.5933·0.1385 ≈ 0.08217"


def test_vector_forms_then_scalars_and_no_scalars():
    mazur = load(ROOT / "problems" / "mazur_2_2_2.yaml")
    solution = solve(mazur)
    with_scalars = [s.key for s in derive(mazur, solution, scalars=True).steps]
    assert with_scalars.index("layers[1].z") + 1 == with_scalars.index("layers[1].z[0]")
    without = [s.key for s in derive(mazur, solution, scalars=False).steps]
    assert "layers[1].z" in without and "layers[1].z[0]" not in without


def test_batch_shows_per_example_delta_and_the_mean():
    problem = load(ROOT / "problems" / "mini_batch_mean.yaml")
    solution = solve(problem)
    steps = derive(problem, solution).steps
    assert {s.key for s in steps} >= {f"layers[2].delta[{x}][0]" for x in range(3)}
    mean = next(s for s in steps if s.key == "gradients.b2_1")
    assert unicode(mean.general) == "(∂C₁/∂b²₁ + ∂C₂/∂b²₁ + ∂C₃/∂b²₁)/3"
    assert mean.rule == "mean"
    per_example = [s for s in steps if s.title == "gradient of b2_1 for example 2"]
    assert len(per_example) == 1 and unicode(per_example[0].lhs) == "∂C₂/∂b²₁"
    summed = load(ROOT / "problems" / "logistic_regression_sum.yaml")
    total = next(s for s in derive(summed, solve(summed)).steps if s.key == "gradients.w1")
    assert unicode(total.general) == "∂C₁/∂w1 + ∂C₂/∂w1" and total.rule == "sum"


def test_derivative_rules_and_simplifications_are_spelled_out_once():
    notes = []
    for path in PROBLEM_FILES:
        problem = load(path)
        derivation = derive(problem, solve(problem))
        text = [prose_unicode(s.note) for s in derivation.steps if s.note]
        assert sum("σ′(z) = σ(z)·(1 − σ(z))" in t for t in text) <= 1
        notes += text
    joined = "\n".join(notes)
    assert "σ′(z) = σ(z)·(1 − σ(z))" in joined
    assert "tanh′(z) = 1 − tanh(z)²" in joined
    assert "ReLU′(z) = 1 for z > 0 and ReLU′(z) = 0 for z < 0" in joined and "at z = 0" in joined
    assert "softplus′(z) = σ(z)" in joined
    assert "sigmoid output with binary cross-entropy" in joined and "δ₁ = y − t" in joined
    assert "softmax output with cross-entropy" in joined and "δ¹ = a¹ − t" in joined


def test_prose_uses_only_characters_latex_can_typeset():
    """Every word that reaches LaTeX text mode is ASCII, a mapped symbol or a Latin letter."""
    for path in PROBLEM_FILES:
        problem = load(path)
        solution = solve(problem)
        for derivation in (derive(problem, solution), concepts(problem, solution),
                           derive(problem, solution, param=next(solution.parameters()).name)):
            texts = [derivation.title, *derivation.sections]
            for step in derivation.steps:
                texts.append(step.title)
                texts += [seg for seg in step.note or () if isinstance(seg, str)]
            for caution in derivation.warnings:
                texts += [seg for seg in caution.message if isinstance(seg, str)]
            for paragraph in derivation.intro:
                texts += [seg for seg in paragraph if isinstance(seg, str)]
            for text in texts:
                odd = {c for c in text if ord(c) >= 128 and c not in _TEXT_LATEX and not c.isalpha()}
                assert not odd, (text, odd)


def test_to_dict_carries_every_form():
    problem, solution = _reference()
    document = derive(problem, solution, param="w2").to_dict()
    step = document["steps"][6]
    assert step["number"] == 7 and step["rule"] == "chain"
    assert step["chain"]["unicode"] == "∂C/∂y·∂y/∂z2·∂z2/∂w2"
    assert step["general"]["latex"] == r"\left(y - t\right) \cdot \sigma'(\mathrm{z2}) \cdot \mathrm{a1}"
    assert step["substituted"]["tree"]["type"] == "Mul"
    assert step["value"] == pytest.approx(-0.0041618331, rel=1e-7)
    assert step["result"]["unicode"] == "−0.004162" and step["exact"] is False


# ================================================================ warnings

def _problem(layers, x=1.0, t=0.0, loss="half_squared_error"):
    return Problem.from_dict({"input": x, "target": t, "loss": loss, "layers": layers})


def _warnings(problem, **options):
    derivation = derive(problem, solve(problem), **options)
    return derivation, {w.kind: w for w in derivation.warnings}


def test_warns_about_a_saturated_sigmoid():
    problem = _problem([{"activation": "sigmoid", "weights": 6.0}, {"activation": "identity", "weights": 1.0}])
    derivation, found = _warnings(problem)
    assert set(found) == {"saturated"}
    text = prose_unicode(found["saturated"].message)
    assert "z1 = 6" in text and "σ′(z1) ≈ 0.002467" in text
    assert derivation.steps[found["saturated"].step].rule == "derivative"


def test_no_saturation_warning_where_sigmoid_and_cross_entropy_cancel():
    problem = _problem([{"activation": "sigmoid", "weights": 8.0}], t=0.0, loss="binary_cross_entropy")
    _, found = _warnings(problem)
    assert "saturated" not in found


def test_warns_about_a_dead_relu():
    problem = Problem.from_dict({"input": [1.0], "target": 0.5, "layers": [
        {"activation": "relu", "weights": [[0.5], [-0.5]], "bias": [0.0, 0.1]},
        {"activation": "identity", "weights": [[1.0, 1.0]]}]})
    derivation, found = _warnings(problem)
    assert set(found) == {"dead_relu"}
    caution = found["dead_relu"]
    text = prose_unicode(caution.message)
    assert "z¹₂ = −0.4 < 0" in text and "ReLU′(z¹₂) = 0" in text and "δ¹₂ = 0" in text
    assert "w1_21, b1_2" in text
    assert caution.layer == 1 and caution.neuron == 1
    assert derivation.steps[caution.step].title.startswith("derivative of the activation")


def test_warns_about_a_vanishing_gradient():
    layers = [{"activation": "sigmoid", "weights": 0.1}] * 5
    _, found = _warnings(_problem(layers))
    assert "vanishing" in found and "exploding" not in found
    assert "per layer" in prose_unicode(found["vanishing"].message)


def test_warns_about_an_exploding_gradient():
    layers = [{"activation": "identity", "weights": 10.0}] * 4
    _, found = _warnings(_problem(layers, x=0.001))
    assert set(found) == {"exploding"}


def test_shipped_problems_raise_no_false_alarms():
    for path in PROBLEM_FILES:
        problem = load(path)
        derivation = derive(problem, solve(problem))
        assert {w.kind for w in derivation.warnings} <= {"saturated", "dead_relu"}, path


def test_huge_scalar_derivation_is_refused_with_advice():
    problem = Problem.from_dict({"input": [0.1] * 40, "target": [0.0] * 40, "layers": [
        {"activation": "sigmoid", "weights": [[0.01] * 40] * 40}]})
    solution = solve(problem)
    with pytest.raises(BpcalcError, match="--no-scalars"):
        derive(problem, solution, scalars=True)
    derivation = derive(problem, solution)         # auto: vector forms only, elided numbers
    assert derivation.scalars is False
    assert all(s.substituted is None or len(nums(s.substituted)) <= 100 for s in derivation.steps)
    assert all(len(s.equation_unicode()) < 1200 for s in derivation.steps)
    summarised = [s for s in derivation.steps if s.summarised]
    assert summarised and "(40 values; --format json has them all)" in summarised[0].summary()


def test_param_on_a_wide_network_stays_short():
    """--param on a wide layer: the forward pass as vectors, then only the needed entries."""
    problem = Problem.from_dict({"input": [0.1 * k for k in range(8)], "target": [1.0, 0.0], "layers": [
        {"activation": "tanh", "weights": [[0.01 * (j - k) for k in range(8)] for j in range(7)]},
        {"activation": "sigmoid", "weights": [[0.1] * 7, [-0.1] * 7], "bias": [0.0, 0.5]}]})
    solution = solve(problem)
    derivation = derive(problem, solution, param="w1_35")
    check_derivation(derivation, solution)
    keys = [s.key for s in derivation.steps]
    assert "layers[1].z" in keys and "layers[1].z[0]" not in keys          # vectors, not 7 sums of 8
    assert keys.count("layers[1].delta[2]") == 1 and "layers[1].delta[0]" not in keys
    assert len(derivation.steps) < 20


def test_a_saturated_output_is_never_shown_as_a_whole_number():
    # σ(12) = 0.9999939: at 2 digits it would read "1", and ln(1 − 1) is not ln(6.1e-6).
    problem = Problem.from_dict({"input": 1, "target": 0, "loss": "binary_cross_entropy",
                                 "layers": [{"activation": "sigmoid", "weights": 12}]})
    derivation = derive(problem, solve(problem), digits=2)
    numbers = [n for step in derivation.steps for tree in (step.substituted, step.result)
               if tree is not None for n in nums(tree)]
    assert numbers and all(n.text != "1" for n in numbers if n.value != 1)
    assert any(n.text.startswith("0.99999") for n in numbers)
