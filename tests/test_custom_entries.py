"""Custom activations and losses (``activations.custom``, ``losses.custom``): a formula a
problem file gives, evaluated by NumPy over whole arrays and differentiated by
:func:`bpcalc.calculus.d`, held to SymPy (its own parser-free expressions, its own ``diff``,
evaluated point by point with :mod:`math`) on random inputs.

The problem-file keys (``activations: {swish: {f: …}}``, ``loss: {cost: …}``) are tested
with the problem loader; here is the Python API.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import bpcalc.expr
from bpcalc import activations, losses
from bpcalc.activations import ACTIVATIONS
from bpcalc.formula import parse
from bpcalc.losses import LOSSES
from bpcalc.problem import Layer, Problem
from bpcalc.solver import solve

SEEDS = st.integers(0, 2 ** 32 - 1)
EXAMPLES = max(10, settings.default.max_examples // 5)
_z, _a, _t = sp.symbols("z a t", real=True)


def _sympy_sigmoid(x):
    return 1 / (1 + sp.exp(-x))


def _pointwise(expression, symbols_, arrays):
    """SymPy's expression at every point, one at a time with math (an independent path)."""
    scalar = sp.lambdify(symbols_, expression, modules="math")
    return np.vectorize(lambda *values: float(scalar(*values)), otypes=[float])(*arrays)


# formula a student writes -> the same function written for SymPy
CUSTOM_ACTIVATIONS = [
    ("z*sigma(z)", _z * _sympy_sigmoid(_z)),                       # swish / SiLU
    ("ln(1 + exp(z))", sp.log(1 + sp.exp(_z))),                     # softplus by hand
    ("z/(1 + abs(z))", _z / (1 + sp.Abs(_z))),                      # softsign by hand
    ("tanh(z)^2 + z/2", sp.tanh(_z) ** 2 + _z / 2),
    ("z*(1 + erf(z/sqrt(2)))/2", _z * (1 + sp.erf(_z / sp.sqrt(2))) / 2),   # GELU by hand
    ("z^3/3 - sin(z)*cos(2*z)", _z ** 3 / 3 - sp.sin(_z) * sp.cos(2 * _z)),
    ("sigma(z)*tanh(z) - relu(z)", _sympy_sigmoid(_z) * sp.tanh(_z) - sp.Piecewise((_z, _z > 0), (0, True))),
]


@pytest.mark.parametrize(("text", "reference"), CUSTOM_ACTIVATIONS, ids=[t for t, _ in CUSTOM_ACTIVATIONS])
@settings(max_examples=EXAMPLES)
@given(seed=SEEDS)
def test_custom_activation_agrees_with_sympy(text, reference, seed):
    activation = activations.custom("mine", parse(text, allowed=["z"]))
    rng = np.random.default_rng(seed)
    z = rng.uniform(-4, 4, size=(6, 5))
    z[np.abs(z) < 1e-3] = 0.5                                       # off relu's and |z|'s kink
    value, prime = activation(z), activation.prime(z)
    assert value.shape == prime.shape == z.shape and value.dtype == prime.dtype == np.float64
    np.testing.assert_allclose(value, _pointwise(reference, (_z,), (z,)), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(prime, _pointwise(sp.diff(reference, _z), (_z,), (z,)), rtol=1e-10, atol=1e-13)
    grad_a = rng.normal(size=z.shape)
    np.testing.assert_allclose(activation.backprop(z, value, grad_a), grad_a * prime, rtol=1e-15)


def test_swish_is_silu():
    """The issue's example: {f: z*sigma(z)} is the registry's silu, value and derivative."""
    swish = activations.custom("swish", parse("z*sigma(z)", allowed=["z"]))
    silu = ACTIVATIONS["silu"]
    z = np.linspace(-30, 30, 600).reshape(3, -1)
    np.testing.assert_allclose(swish(z), silu(z), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(swish.prime(z), silu.prime(z), rtol=1e-12, atol=1e-15)
    assert swish.custom and swish.name == "swish" and swish.elementwise
    from bpcalc.expr import to_unicode

    assert to_unicode(swish.prime_formula()) == "σ(z) + z·σ(z)·(1 − σ(z))"


def test_a_custom_activation_is_one_array_evaluation(monkeypatch):
    """NumPy over the whole array: one evaluation of the tree per call, however many
    entries (no Python loop over neurons or examples)."""
    calls = []
    real = bpcalc.expr.evaluate

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(bpcalc.expr, "evaluate", counting)
    swish = activations.custom("swish", parse("z*sigma(z)", allowed=["z"]))
    loss = losses.custom(parse("(a - t)^4/4", allowed=["a", "t"]))
    big = np.random.default_rng(0).normal(size=(256, 300))
    for function in (swish.function, swish.derivative):
        calls.clear()
        function(big)
        assert len(calls) == 1
    for function in (loss.cost, loss.gradient):
        calls.clear()
        function(big, big[::-1])
        assert len(calls) == 1


CUSTOM_LOSSES = [
    ("(a - t)^4/4", (_a - _t) ** 4 / 4),
    ("(a - t)^2/n", None),                                         # n: the number of outputs
    ("ln(cosh(a - t))", sp.log(sp.cosh(_a - _t))),                  # log-cosh
    ("abs(a - t) + (a - t)^2", sp.Abs(_a - _t) + (_a - _t) ** 2),
    ("-(t*ln(sigma(a)) + (1 - t)*ln(1 - sigma(a)))",                # BCE on a logit
     -(_t * sp.log(_sympy_sigmoid(_a)) + (1 - _t) * sp.log(1 - _sympy_sigmoid(_a)))),
]


@pytest.mark.parametrize(("text", "term"), CUSTOM_LOSSES, ids=[t for t, _ in CUSTOM_LOSSES])
@settings(max_examples=EXAMPLES)
@given(seed=SEEDS, outputs=st.integers(1, 4))
def test_custom_loss_per_output_agrees_with_sympy(text, term, seed, outputs):
    loss = losses.custom(parse(text, allowed=["a", "t", "n"]))
    if term is None:
        term = (_a - _t) ** 2 / outputs
    rng = np.random.default_rng(seed)
    a, t = rng.uniform(-2, 2, size=(5, outputs)), rng.uniform(0, 1, size=(5, outputs))
    a[np.abs(a - t) < 1e-3] += 0.01                                 # off the |a − t| kink
    cost, gradient = loss.cost(a, t), loss.gradient(a, t)
    assert cost.shape == (5,) and gradient.shape == a.shape
    assert cost.dtype == gradient.dtype == np.float64
    expected_cost = _pointwise(term, (_a, _t), (a, t)).sum(axis=-1)
    np.testing.assert_allclose(cost, expected_cost, rtol=1e-12, atol=1e-14)
    expected_gradient = _pointwise(sp.diff(term, _a), (_a, _t), (a, t))
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-10, atol=1e-13)


def _vector_symbols(n: int):
    return sp.symbols(" ".join(f"a_{j}" for j in range(1, n + 1)), real=True), \
        sp.symbols(" ".join(f"t_{j}" for j in range(1, n + 1)), real=True)


# over the whole output vector (per_output: false): formula text, sympy cost from (a, t)
VECTOR_LOSSES = [
    ("ln(exp(a_1) + exp(a_2)) - (t_1*a_1 + t_2*a_2)",               # softmax cross-entropy on logits
     lambda a, t: sp.log(sp.exp(a[0]) + sp.exp(a[1])) - (t[0] * a[0] + t[1] * a[1])),
    ("(a_1 - t_1)^2*a_2 + t_2*a_1*a_2",
     lambda a, t: (a[0] - t[0]) ** 2 * a[1] + t[1] * a[0] * a[1]),
    ("sqrt((a_1 - t_1)^2 + (a_2 - t_2)^2 + 1)",                     # a smoothed distance
     lambda a, t: sp.sqrt((a[0] - t[0]) ** 2 + (a[1] - t[1]) ** 2 + 1)),
]


@pytest.mark.parametrize(("text", "reference"), VECTOR_LOSSES, ids=[t for t, _ in VECTOR_LOSSES])
@settings(max_examples=EXAMPLES)
@given(seed=SEEDS)
def test_custom_loss_over_the_vector_agrees_with_sympy(text, reference, seed):
    names = ["a_1", "a_2", "t_1", "t_2"]
    loss = losses.custom(parse(text, allowed=names), per_output=False, outputs=2)
    a_symbols, t_symbols = _vector_symbols(2)
    cost_expression = reference(a_symbols, t_symbols)
    rng = np.random.default_rng(seed)
    a, t = rng.uniform(-2, 2, size=(7, 2)), rng.uniform(0, 1, size=(7, 2))
    columns = (a[:, 0], a[:, 1], t[:, 0], t[:, 1])
    everything = (*a_symbols, *t_symbols)
    np.testing.assert_allclose(loss.cost(a, t), _pointwise(cost_expression, everything, columns),
                               rtol=1e-12, atol=1e-14)
    gradient = loss.gradient(a, t)
    assert gradient.shape == a.shape and gradient.dtype == np.float64
    for j, symbol in enumerate(a_symbols):
        np.testing.assert_allclose(gradient[:, j], _pointwise(sp.diff(cost_expression, symbol), everything, columns),
                                   rtol=1e-10, atol=1e-13, err_msg=f"∂C/∂a_{j + 1}")


def _network(activation, loss, rng) -> Problem:
    def layer(entry, n_out, n_in):
        return Layer(entry, rng.normal(size=(n_out, n_in)), rng.normal(size=n_out), (), (), frozenset(),
                     dict(entry.params))

    return Problem(layers=(layer(activation, 4, 3), layer(ACTIVATIONS["identity"], 2, 4)),
                   inputs=rng.normal(size=(5, 3)), targets=rng.normal(size=(5, 2)), loss=loss,
                   reduction="mean", learning_rate=0.1, single=False)


def test_a_network_with_custom_entries_solves_like_the_builtins():
    """solve treats a custom swish and a custom ½(a − t)² as it treats silu and
    half_squared_error: the same numbers, layer by layer."""
    swish = activations.custom("swish", parse("z*sigma(z)", allowed=["z"]))
    half = losses.custom(parse("(a - t)^2/2", allowed=["a", "t"]))
    mine = solve(_network(swish, half, np.random.default_rng(3)))
    builtin = solve(_network(ACTIVATIONS["silu"], LOSSES["half_squared_error"], np.random.default_rng(3)))
    assert mine.loss == pytest.approx(builtin.loss, rel=1e-14)
    for ours, theirs in zip(mine.layers, builtin.layers):
        np.testing.assert_allclose(ours.delta, theirs.delta, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ours.dC_dw, theirs.dC_dw, rtol=1e-12, atol=1e-15)


def test_a_network_with_a_custom_quartic_loss_has_the_gradients_of_its_differences():
    quartic = losses.custom(parse("(a - t)^4/4", allowed=["a", "t"]))
    problem = _network(ACTIVATIONS["tanh"], quartic, np.random.default_rng(4))
    solution = solve(problem)
    step = 1e-6
    first = problem.layers[0]
    for index in np.ndindex(first.weights.shape):
        costs = []
        for sign in (1, -1):
            weights = first.weights.copy()
            weights[index] += sign * step
            moved = dataclasses.replace(first, weights=weights)
            costs.append(solve(dataclasses.replace(problem, layers=(moved, problem.layers[1]))).loss)
        numeric = (costs[0] - costs[1]) / (2 * step)
        assert solution.layers[0].dC_dw[index] == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_custom_rules_are_derived_and_printed():
    from bpcalc.expr import to_unicode

    quartic = losses.custom(parse("(a - t)^4/4", allowed=["a", "t"]))
    assert to_unicode(quartic.gradient_formula()) == "(a − t)³"
    assert to_unicode(quartic.summed()) == "(Σⱼ (aⱼ − tⱼ)⁴)/4"
    log_sigmoid = activations.custom("logsigmoid", parse("ln(sigma(z))", allowed=["z"]))
    assert to_unicode(log_sigmoid.prime_formula()) == "1 − σ(z)"
    assert math.isclose(float(log_sigmoid.prime(np.array([0.0]))[0]), 0.5)
