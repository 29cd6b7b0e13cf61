"""The activation and loss registries, checked entry by entry.

Every test is parametrised over ``ACTIVATIONS`` / ``LOSSES`` (and over each
loss's ``fused`` forms), so a new registry entry is tested automatically; the
only hand-written rows are the independent reference formulas of
``tests/references.py`` (written with :mod:`math`, one scalar at a time), and a
test fails until a new entry has its rows. Conventions at the kinks follow PyTorch (``KINK_VALUES``).

Each entry's symbolic side (its ``formula``/``rule`` trees, f′ from
:meth:`Activation.prime_formula`, the "through a" shortcut, a loss's ∂C/∂a from
:meth:`Loss.gradient_formula`) is held to its NumPy side and to finite
differences by :func:`activation_problems` and :func:`loss_problems`, printed
rules included (``to_text`` read back by the formula parser), so changing any
symbolic rule fails a test; ``test_a_wrong_rule_is_reported`` proves it.

Derivatives are checked against centered finite differences in float64 with a
step of 1e-6. The criterion is a relative error below 1e-6, with an absolute
floor of 2e-9·max(1, |f|): the rounding error of a difference quotient,
about ε·|f|/h, is what stops it from being exact near a zero derivative.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from bpcalc.activations import ACTIVATIONS, Activation
from bpcalc.errors import BpcalcError, FormulaError
from bpcalc.expr import (
    TEXT_RELATIONS, Add, Call, Compare, Div, Expr, Mul, Neg, Num, Piecewise, Pow, Sub, Sym,
    evaluate, substitute, symbols, to_text,
)
from bpcalc.formula import parse
from bpcalc.losses import LOSSES, Loss
from bpcalc.problem import Problem
from bpcalc.solver import solve

import references

STEP = 1e-6
RTOL = 1e-6
FLOOR = 2e-9            # ≈ 10 ε / STEP: rounding in a difference quotient of O(1) values

# z values for derivative checks: -6..6 without 0 and ±1 (the kinks of relu, leaky_relu,
# selu and hardtanh; the nearest grid points are 0.12 away, far more than STEP).
GRID = np.linspace(-6.0, 6.0, 50)
assert np.min(np.abs(GRID)) > 0.1 and np.min(np.abs(np.abs(GRID) - 1)) > 0.1

# Non-default values to try for activation and loss parameters (leaky_relu's slope,
# elu's alpha, huber's delta).
PARAMETER_VALUES = {"slope": (0.0, 0.2, 0.5, 1.5), "alpha": (0.0, 0.5, 2.0), "delta": (0.25, 2.5)}


# ---------------------------------------------------------------- references
# name -> f(z, **params), scalar in, scalar out (elementwise activations); f′ likewise
ELEMENTWISE_REFERENCE = references.ACTIVATION
PRIME_REFERENCE = references.ACTIVATION_PRIME
# name -> f(vector) for the activations whose Jacobian is not diagonal
VECTOR_REFERENCE = references.VECTOR_ACTIVATION
# name -> C_x(a, t, **params) for one example (lists of floats); ∂C_x/∂a likewise
LOSS_REFERENCE = references.LOSS
GRADIENT_REFERENCE = references.LOSS_GRADIENT
_softmax_reference = references.softmax
SELU_SCALE, SELU_ALPHA = references.SELU_SCALE, references.SELU_ALPHA

# f and f′ where a function has a kink, as PyTorch computes them:
# name -> {z: (f(z), f′(z)) with the default parameters}
KINK_VALUES = {
    "relu": {0.0: (0.0, 0.0)},                              # threshold_backward: grad where z > 0
    "leaky_relu": {0.0: (0.0, 0.01)},                       # z > 0 ? grad : grad·slope
    "elu": {0.0: (0.0, 1.0)},                               # z ≤ 0 branch: α·eᶻ
    "selu": {0.0: (0.0, SELU_SCALE * SELU_ALPHA)},          # λα·e⁰
    "hardtanh": {-1.0: (-1.0, 0.0), 1.0: (1.0, 0.0)},       # grad where −1 < z < 1 only
    "softsign": {0.0: (0.0, 1.0)},                          # 1/(1 + |z|)², smooth but |z|
}

ACTIVATION_NAMES = sorted(ACTIVATIONS)
ELEMENTWISE_NAMES = [n for n in ACTIVATION_NAMES if ACTIVATIONS[n].elementwise]
LOSS_NAMES = sorted(LOSSES)
FUSED = [(loss, act) for loss in LOSS_NAMES for act in sorted(LOSSES[loss].fused)]


def _param_sets(entry: Activation | Loss) -> list[dict[str, float]]:
    """The default parameters, then each parameter set to each value worth trying."""
    sets = [dict(entry.params)]
    for key in entry.params:
        for value in PARAMETER_VALUES.get(key, (0.3,)):
            sets.append({**entry.params, key: value})
    return sets


def _param_cases(names: list[str], registry=ACTIVATIONS) -> list:
    return [pytest.param(name, params, id=f"{name}-{params}" if params else name)
            for name in names for params in _param_sets(registry[name])]


LOSS_CASES = _param_cases(LOSS_NAMES, LOSSES)


def _close(actual, expected, scale=1.0):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    bound = RTOL * np.abs(expected) + FLOOR * np.maximum(1.0, np.abs(scale))
    return np.abs(actual - expected) <= bound


def _strict():
    """Floating-point errors raise. Underflow to 0 (e.g. exp(-1000)) is the correct
    result, not an error, so it is the one condition left alone."""
    return np.errstate(over="raise", divide="raise", invalid="raise", under="ignore")


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _strict():
            yield


# ------------------------------------------------------ every entry has a row
def test_every_activation_has_a_reference_row():
    missing = [n for n, a in ACTIVATIONS.items() if n not in VECTOR_REFERENCE
               and (n not in ELEMENTWISE_REFERENCE or n not in PRIME_REFERENCE)]
    assert not missing, f"add reference formulas for {missing} to tests/references.py"


def test_every_loss_has_a_reference_row():
    missing = [n for n in LOSSES if n not in LOSS_REFERENCE or n not in GRADIENT_REFERENCE]
    assert not missing, f"add reference formulas for {missing} to tests/references.py"


def test_registry_names_match_entries():
    for name, activation in ACTIVATIONS.items():
        assert name == activation.name or name in activation.aliases
    for name, loss in LOSSES.items():
        assert name == loss.name


# ------------------------------------------------------------ activation values
@pytest.mark.parametrize(("name", "params"), _param_cases(ELEMENTWISE_NAMES))
def test_elementwise_activation_values_match_reference(name, params, no_warnings):
    activation = ACTIVATIONS[name]
    z = np.concatenate([GRID, [0.0, -0.0, 1e-12, -1e-12, 40.0, -40.0]]).reshape(2, -1)
    got = activation(z, **params)
    assert got.shape == z.shape and got.dtype == np.float64
    expected = np.vectorize(lambda v: ELEMENTWISE_REFERENCE[name](float(v), **params))(z)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize(("name", "params"), _param_cases(ELEMENTWISE_NAMES))
def test_elementwise_derivative_matches_reference(name, params, no_warnings):
    """f′ against the hand-derived reference, at the kinks too (ReLU′(0) = 0, …)."""
    activation = ACTIVATIONS[name]
    kinks = [k for row in KINK_VALUES.values() for k in row]
    z = np.concatenate([GRID, kinks, [1e-12, -1e-12, 40.0, -40.0]])
    expected = np.vectorize(lambda v: PRIME_REFERENCE[name](float(v), **params))(z)
    # 1 − tanh(z)² cancels: the last bit of tanh (libm's against NumPy's) shows up absolutely
    np.testing.assert_allclose(activation.prime(z, **params), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", [n for n in ACTIVATION_NAMES if not ACTIVATIONS[n].elementwise])
def test_vector_activation_values_match_reference(name, no_warnings):
    rng = np.random.default_rng(1)
    z = rng.uniform(-5, 5, size=(4, 3))
    got = ACTIVATIONS[name](z)
    assert got.shape == z.shape and got.dtype == np.float64
    expected = np.array([VECTOR_REFERENCE[name](list(row)) for row in z])
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_activation_does_not_modify_its_input():
    z = np.linspace(-3, 3, 12).reshape(3, 4)
    for name, activation in ACTIVATIONS.items():
        before = z.copy()
        activation(z, **activation.params)
        assert np.array_equal(z, before), name


# ---------------------------------------------------------- f′ vs differences
@pytest.mark.parametrize(("name", "params"), _param_cases(ELEMENTWISE_NAMES))
def test_derivative_matches_centered_differences(name, params, no_warnings):
    activation = ACTIVATIONS[name]
    z = GRID.reshape(5, 10)
    f = lambda v: activation(v, **params)  # noqa: E731
    numeric = (f(z + STEP) - f(z - STEP)) / (2 * STEP)
    analytic = activation.prime(z, **params)
    assert analytic.shape == z.shape and analytic.dtype == np.float64
    ok = _close(analytic, numeric, scale=f(z))
    assert ok.all(), (f"{name} {params}: f′ differs from the centered difference at z = {z[~ok]}: "
                      f"f′ = {analytic[~ok]}, difference = {numeric[~ok]}")


@pytest.mark.parametrize(("name", "params"), _param_cases(ELEMENTWISE_NAMES))
def test_elementwise_backprop_is_gradient_times_derivative(name, params):
    activation = ACTIVATIONS[name]
    rng = np.random.default_rng(2)
    z = rng.uniform(-4, 4, size=(3, 5))
    grad_a = rng.normal(size=z.shape)
    a = activation(z, **params)
    np.testing.assert_allclose(activation.backprop(z, a, grad_a, **params),
                               grad_a * activation.prime(z, **params), rtol=1e-15, atol=0)


def test_relu_derivative_at_zero_is_zero_by_convention():
    relu = ACTIVATIONS["relu"]
    z = np.array([[0.0, -0.0, 1e-300, -1e-300]])
    np.testing.assert_array_equal(relu.prime(z), [[0.0, 0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(relu(z), [[0.0, 0.0, 1e-300, 0.0]])


@pytest.mark.parametrize("slope", [0.01, 0.1, 0.3, 0.0])
def test_leaky_relu_uses_its_slope_for_z_at_or_below_zero(slope):
    leaky = ACTIVATIONS["leaky_relu"]
    z = np.array([[-2.0, -1e-9, 0.0, 1e-9, 2.0]])
    np.testing.assert_array_equal(leaky.prime(z, slope=slope), [[slope, slope, slope, 1.0, 1.0]])
    np.testing.assert_allclose(leaky(z, slope=slope), [[-2 * slope, -1e-9 * slope, 0.0, 1e-9, 2.0]],
                               rtol=1e-15, atol=0)


def test_leaky_relu_default_slope_is_0_01():
    leaky = ACTIVATIONS["leaky_relu"]
    assert leaky.params == {"slope": 0.01}


# ------------------------------------------- backprop vs the Jacobian (softmax)
def _jacobian_by_differences(activation: Activation, row: np.ndarray, params) -> np.ndarray:
    """J[i, j] = ∂a_i/∂z_j for one example, by centered differences."""
    n = len(row)
    jac = np.empty((n, n))
    for j in range(n):
        up, down = row.copy(), row.copy()
        up[j] += STEP
        down[j] -= STEP
        jac[:, j] = (activation(up[None, :], **params)[0] - activation(down[None, :], **params)[0]) / (2 * STEP)
    return jac


@pytest.mark.parametrize(("name", "params"), _param_cases(ACTIVATION_NAMES))
@pytest.mark.parametrize("width", [1, 2, 5])
def test_backprop_is_jacobian_transpose_times_gradient(name, params, width, no_warnings):
    """For every activation (softmax included): backprop(z, a, g) = Jᵀ g, row by row,
    with J the full Jacobian of the activation computed by finite differences."""
    activation = ACTIVATIONS[name]
    rng = np.random.default_rng(3 + width)
    z = rng.uniform(-4, 4, size=(4, width))
    z[np.abs(z) < 0.05] += 0.1                     # keep away from the kinks at 0
    grad_a = rng.normal(size=z.shape)
    a = activation(z, **params)
    got = activation.backprop(z, a, grad_a, **params)
    assert got.shape == z.shape and got.dtype == np.float64
    for x in range(len(z)):
        jac = _jacobian_by_differences(activation, z[x], params)
        expected = jac.T @ grad_a[x]
        ok = _close(got[x], expected, scale=np.abs(grad_a[x]).sum())
        assert ok.all(), f"{name} example {x}: backprop {got[x]} vs Jᵀg {expected}"


def test_softmax_backprop_matches_the_analytic_jacobian():
    softmax = ACTIVATIONS["softmax"]
    z = np.array([[0.5, -1.0, 2.0, 0.0]])
    a = softmax(z)
    jac = np.diag(a[0]) - np.outer(a[0], a[0])      # ∂a_j/∂z_k = a_j(δ_jk − a_k)
    g = np.array([[1.0, -2.0, 0.5, 3.0]])
    np.testing.assert_allclose(softmax.backprop(z, a, g), (jac.T @ g[0])[None, :], rtol=1e-14, atol=1e-16)


def test_softmax_has_no_elementwise_derivative():
    softmax = ACTIVATIONS["softmax"]
    with pytest.raises(TypeError):
        softmax.prime(np.zeros((1, 3)))


def test_softmax_rows_are_independent_distributions():
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0], [-5.0, 0.0, 5.0]])
    a = ACTIVATIONS["softmax"](z)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(a[1], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(a[0], _softmax_reference([1.0, 2.0, 3.0]), rtol=1e-14)


# ------------------------------------------------------------------ stability
EXTREMES = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0]])
EXPECTED_AT_EXTREMES = {        # name -> (f(±1000 row 0), f′ row 0) for the elementwise ones
    "sigmoid": ([1.0, 0.5, 0.0], [0.0, 0.25, 0.0]),
    "tanh": ([1.0, 0.0, -1.0], [0.0, 1.0, 0.0]),
    "softplus": ([1000.0, math.log(2.0), 0.0], [1.0, 0.5, 0.0]),
    "identity": ([1000.0, 0.0, -1000.0], [1.0, 1.0, 1.0]),
    "relu": ([1000.0, 0.0, 0.0], [1.0, 0.0, 0.0]),
    "leaky_relu": ([1000.0, 0.0, -10.0], [1.0, 0.01, 0.01]),
    "elu": ([1000.0, 0.0, -1.0], [1.0, 1.0, 0.0]),
    "selu": ([SELU_SCALE * 1000.0, 0.0, -SELU_SCALE * SELU_ALPHA],
             [SELU_SCALE, SELU_SCALE * SELU_ALPHA, 0.0]),
    "gelu": ([1000.0, 0.0, 0.0], [1.0, 0.5, 0.0]),
    "silu": ([1000.0, 0.0, 0.0], [1.0, 0.5, 0.0]),
    "softsign": ([1000.0 / 1001.0, 0.0, -1000.0 / 1001.0], [1.0 / 1001.0 ** 2, 1.0, 1.0 / 1001.0 ** 2]),
    "hardtanh": ([1.0, 0.0, -1.0], [0.0, 1.0, 0.0]),
}


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activations_are_stable_at_plus_minus_1000(name, no_warnings):
    activation = ACTIVATIONS[name]
    a = activation(EXTREMES, **activation.params)
    grad = activation.backprop(EXTREMES, a, np.ones_like(EXTREMES), **activation.params)
    assert np.isfinite(a).all() and np.isfinite(grad).all(), (a, grad)
    if activation.elementwise:
        prime = activation.prime(EXTREMES, **activation.params)
        assert np.isfinite(prime).all()
        if activation.name in EXPECTED_AT_EXTREMES:
            values, derivatives = EXPECTED_AT_EXTREMES[activation.name]
            np.testing.assert_allclose(a[0], values, rtol=1e-15, atol=0)
            np.testing.assert_allclose(prime[0], derivatives, rtol=1e-15, atol=0)


def test_sigmoid_saturates_exactly(no_warnings):
    s = ACTIVATIONS["sigmoid"](np.array([[1000.0, -1000.0, 40.0, -745.0]]))
    assert s[0, 0] == 1.0 and s[0, 1] == 0.0 and s[0, 2] == 1.0
    assert 0.0 <= s[0, 3] < 1e-300


def test_softmax_of_huge_logits_is_one_hot(no_warnings):
    softmax = ACTIVATIONS["softmax"]
    z = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0], [1e300, -1e300, 0.0]])
    a = softmax(z)
    np.testing.assert_array_equal(a[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(a[1], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_array_equal(a[2], [1.0, 0.0, 0.0])
    grad = softmax.backprop(z, a, np.array([[1.0, -1.0, 2.0]] * 3))
    assert np.isfinite(grad).all()


# ----------------------------------------------------------------------- losses
def _loss_inputs(loss_name: str, rng: np.random.Generator, wide: bool):
    """a and t valid for the loss: probabilities (some targets exactly 0 or 1) for the
    losses whose domain demands them, anything for the others."""
    shape = (3, 4)
    t = rng.uniform(0, 1, size=shape)
    t[0, 0], t[1, 1], t[2, 2] = 0.0, 1.0, 0.0
    a = rng.uniform(0.05, 0.95, size=shape)
    if wide:
        a_wide, t_wide = rng.uniform(-3, 3, size=shape), rng.uniform(-3, 3, size=shape)
        if LOSSES[loss_name].domain(a_wide, t_wide) is None:
            return a_wide, t_wide
    return a, t


@pytest.mark.parametrize(("name", "params"), LOSS_CASES)
@pytest.mark.parametrize("wide", [False, True], ids=["probabilities", "wide"])
def test_loss_cost_and_gradient_match_reference(name, params, wide, no_warnings):
    loss = LOSSES[name]
    a, t = _loss_inputs(name, np.random.default_rng(5), wide)
    a[0, :2] = t[0, :2]                             # on the L1 kink: sign(0) = 0
    cost, gradient = loss.cost(a, t, **params), loss.gradient(a, t, **params)
    assert cost.shape == (3,) and cost.dtype == np.float64
    expected = [LOSS_REFERENCE[name](list(a[x]), list(t[x]), **params) for x in range(3)]
    np.testing.assert_allclose(cost, expected, rtol=1e-13)
    expected = [GRADIENT_REFERENCE[name](list(a[x]), list(t[x]), **params) for x in range(3)]
    np.testing.assert_allclose(gradient, expected, rtol=1e-13, atol=1e-300)


def _cost_differences(loss: Loss, a, t, params) -> np.ndarray:
    """∂C_x/∂a by centered differences of the NumPy cost, entry by entry."""
    numeric = np.empty_like(a)
    for index in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[index] += STEP
        down[index] -= STEP
        x = index[0]
        numeric[index] = (loss.cost(up, t, **params)[x] - loss.cost(down, t, **params)[x]) / (2 * STEP)
    return numeric


@pytest.mark.parametrize(("name", "params"), LOSS_CASES)
@pytest.mark.parametrize("wide", [False, True], ids=["probabilities", "wide"])
def test_loss_gradient_matches_centered_differences(name, params, wide, no_warnings):
    loss = LOSSES[name]
    a, t = _loss_inputs(name, np.random.default_rng(6), wide)
    grad = loss.gradient(a, t, **params)
    assert grad.shape == a.shape and grad.dtype == np.float64
    numeric = _cost_differences(loss, a, t, params)
    ok = _close(grad, numeric, scale=loss.cost(a, t, **params)[:, None])
    assert ok.all(), f"{name}: ∂C/∂a {grad[~ok]} vs differences {numeric[~ok]}"


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_gradient_is_per_example(name):
    """∂C_x/∂a only depends on example x: changing another example changes nothing."""
    loss = LOSSES[name]
    a, t = _loss_inputs(name, np.random.default_rng(7), False)
    before = loss.gradient(a, t)
    a2 = a.copy()
    a2[1] = 1 - a2[1]
    after = loss.gradient(a2, t)
    np.testing.assert_array_equal(before[[0, 2]], after[[0, 2]])


@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy"])
def test_cross_entropies_are_finite_at_zero_and_one_when_the_target_allows(name, no_warnings):
    loss = LOSSES[name]
    if name == "cross_entropy":
        a, t = np.array([[1.0, 0.0, 0.0]]), np.array([[1.0, 0.0, 0.0]])
    else:
        a, t = np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]])
    assert loss.cost(a, t)[0] == 0.0
    assert np.isfinite(loss.gradient(a, t)).all()


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_domain(name):
    loss = LOSSES[name]
    inside = np.array([[0.2, 0.8]])
    assert loss.domain(inside, inside) is None
    if name in ("cross_entropy", "binary_cross_entropy"):
        assert loss.domain(np.array([[1.5, -0.5]]), inside)


# -------------------------------------------------------------------- fused
def _fused_inputs(activation_name: str, rng: np.random.Generator):
    z = rng.uniform(-8, 8, size=(5, 3))
    t = rng.uniform(0, 1, size=z.shape)
    if activation_name == "softmax":
        t[0] = [0.0, 1.0, 0.0]                      # one-hot
        t[1] = t[1] / t[1].sum()                    # a distribution
        t[2] = [0.0, 0.0, 0.0]                      # all zero (no class)
        # rows 3 and 4 do not sum to 1: the general formula must still hold
    else:
        t[0] = [0.0, 1.0, 0.5]
    return z, t


@pytest.mark.parametrize(("loss_name", "activation_name"), FUSED)
def test_fused_loss_equals_unfused_formulas(loss_name, activation_name, no_warnings):
    loss, activation = LOSSES[loss_name], ACTIVATIONS[activation_name]
    fused = loss.fused[activation_name]
    z, t = _fused_inputs(activation_name, np.random.default_rng(8))
    a = activation(z, **activation.params)
    np.testing.assert_allclose(fused.cost(z, t), loss.cost(a, t), rtol=1e-12, atol=1e-14)
    unfused_delta = activation.backprop(z, a, loss.gradient(a, t), **activation.params)
    np.testing.assert_allclose(fused.delta(z, a, t), unfused_delta, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("loss_name", "activation_name"), FUSED)
def test_fused_delta_matches_differences_of_fused_cost(loss_name, activation_name, no_warnings):
    loss, activation = LOSSES[loss_name], ACTIVATIONS[activation_name]
    fused = loss.fused[activation_name]
    z, t = _fused_inputs(activation_name, np.random.default_rng(9))
    a = activation(z, **activation.params)
    delta = fused.delta(z, a, t)
    numeric = np.empty_like(z)
    for index in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[index] += STEP
        down[index] -= STEP
        numeric[index] = (fused.cost(up, t)[index[0]] - fused.cost(down, t)[index[0]]) / (2 * STEP)
    ok = _close(delta, numeric, scale=fused.cost(z, t)[:, None])
    assert ok.all(), (delta[~ok], numeric[~ok])


@pytest.mark.parametrize(("loss_name", "activation_name"), FUSED)
def test_fused_forms_are_finite_when_saturated(loss_name, activation_name, no_warnings):
    loss, activation = LOSSES[loss_name], ACTIVATIONS[activation_name]
    fused = loss.fused[activation_name]
    z = np.array([[1000.0, 0.0, -1000.0]])
    a = activation(z, **activation.params)
    for t in (np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 0.0, 1.0]]), np.array([[0.5, 0.5, 0.0]])):
        cost, delta = fused.cost(z, t), fused.delta(z, a, t)
        assert np.isfinite(cost).all() and np.isfinite(delta).all(), (t, cost, delta)


def test_fused_binary_cross_entropy_values_when_saturated(no_warnings):
    fused = LOSSES["binary_cross_entropy"].fused["sigmoid"]
    z = np.array([[1000.0, -1000.0, 1000.0]])
    a = ACTIVATIONS["sigmoid"](z)
    t = np.array([[1.0, 1.0, 0.5]])
    # −[t ln a + (1−t) ln(1−a)] with ln σ(z) = −softplus(−z): 0 + 1000 + 0.5·1000
    np.testing.assert_allclose(fused.cost(z, t), [1500.0], rtol=1e-15)
    np.testing.assert_array_equal(fused.delta(z, a, t), [[0.0, -1.0, 0.5]])


def test_fused_cross_entropy_values_when_saturated(no_warnings):
    fused = LOSSES["cross_entropy"].fused["softmax"]
    z = np.array([[1000.0, 0.0, -1000.0]] * 3)
    a = ACTIVATIONS["softmax"](z)
    t = np.eye(3)
    # −ln softmax(z)_k = logsumexp(z) − z_k = 1000 − z_k
    np.testing.assert_allclose(fused.cost(z, t), [0.0, 1000.0, 2000.0], rtol=1e-15, atol=0)
    np.testing.assert_array_equal(fused.delta(z, a, t), a - t)


# ------------------------------------------ saturated outputs through solve
def _one_layer(activation, weights, bias, target, loss, inputs=(1.0,)):
    return Problem.from_dict({
        "input": list(inputs), "target": target, "loss": loss, "learning_rate": 0.5,
        "layers": [{"activation": activation, "weights": weights, "bias": bias}],
    })


@pytest.mark.parametrize("z", [40.0, 1000.0])
@pytest.mark.parametrize("target", [1.0, 0.5])
def test_solve_sigmoid_output_exactly_one_with_binary_cross_entropy(z, target, no_warnings):
    problem = _one_layer("sigmoid", [[z]], [0.0], [target], "binary_cross_entropy")
    solution = solve(problem)
    output = solution.layers[0].a[0, 0]
    assert output == 1.0
    # C = t·softplus(−z) + (1 − t)·softplus(z) = (1 − t)·z up to e^−z
    assert solution.loss == pytest.approx((1 - target) * z + math.log1p(math.exp(-z)), rel=1e-14)
    assert solution.layers[0].delta[0, 0] == pytest.approx(1.0 - target, abs=1e-15)
    grads = solution.gradients()
    assert grads["w1_11"] == pytest.approx(1.0 - target, abs=1e-15)     # δ·x with x = 1
    assert grads["b1_1"] == pytest.approx(1.0 - target, abs=1e-15)
    assert all(math.isfinite(v) for v in solution.updated().values())


def test_solve_sigmoid_output_exactly_zero_with_binary_cross_entropy(no_warnings):
    solution = solve(_one_layer("sigmoid", [[-1000.0]], [0.0], [0.0], "binary_cross_entropy"))
    assert solution.layers[0].a[0, 0] == 0.0
    assert solution.loss == 0.0
    assert solution.gradients() == {"w1_11": 0.0, "b1_1": 0.0}


@pytest.mark.parametrize("target", [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
def test_solve_softmax_with_a_zero_probability_and_one_hot_target(target, no_warnings):
    problem = _one_layer("softmax", [[1000.0], [0.0], [-1000.0]], [0.0, 0.0, 0.0], target,
                         "cross_entropy")
    solution = solve(problem)
    a = solution.layers[0].a[0]
    np.testing.assert_array_equal(a, [1.0, 0.0, 0.0])
    k = target.index(1)
    assert solution.loss == pytest.approx([0.0, 1000.0, 2000.0][k], abs=1e-12)
    np.testing.assert_array_equal(solution.layers[0].delta[0], a - np.array(target, dtype=float))
    assert all(math.isfinite(v) for v in solution.gradients().values())
    assert all(math.isfinite(v) for v in solution.updated().values())


def test_solve_cross_entropy_on_a_non_probability_output_is_an_error():
    problem = _one_layer("identity", [[1.5], [0.5]], [0.0, 0.0], [1.0, 0.0], "cross_entropy")
    with pytest.raises(BpcalcError, match="cross_entropy"):
        solve(problem)


@pytest.mark.parametrize("name", ELEMENTWISE_NAMES)
def test_solve_hidden_layer_at_plus_minus_1000(name, no_warnings):
    """A hidden layer at ±1000 followed by a sigmoid output: finite everywhere."""
    problem = Problem.from_dict({
        "input": [1.0], "target": [0.3], "learning_rate": 0.1,
        "layers": [{"activation": name, "weights": [[1000.0], [-1000.0]]},
                   {"activation": "sigmoid", "weights": [[1e-3, -1e-3]]}],
    })
    solution = solve(problem)
    for layer in solution.layers:
        for values in (layer.z, layer.a, layer.delta, layer.dC_dw):
            assert np.isfinite(values).all()


# ------------------------------------ the symbolic side: one source of truth, held to NumPy
def read_back(text: str, found: dict[str, Expr] | None = None) -> Expr:
    """``formula.parse`` of a printed rule, plus the one construct the formula language does
    not read: TextPrinter's ``(value if condition else other)`` of a Piecewise. Each such
    bracket, innermost first, becomes a placeholder name that is put back at the end."""
    top, found = found is None, {} if found is None else found
    out: list[str] = []
    starts: list[int] = []
    for ch in text:
        if ch == "(":
            starts.append(len(out))
        out.append(ch)
        if ch == ")":
            start = starts.pop()
            inner = "".join(out[start + 1:-1])
            if _top_level(inner, " if ") is not None:
                name = f"piece{len(found)}__"
                found[name] = _conditional(inner, found)
                del out[start:]
                out.append(name)
    tree = parse("".join(out))
    while top and symbols(tree) & set(found):
        tree = substitute(tree, found)
    return tree


def _top_level(text: str, word: str) -> int | None:
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and text.startswith(word, i):
            return i
    return None


_READ_RELATIONS = sorted(((text, relation) for relation, text in TEXT_RELATIONS.items()),
                         key=lambda pair: -len(pair[0]))


def _conditional(inner: str, found: dict[str, Expr]) -> Piecewise:
    at = _top_level(inner, " if ")
    value, rest = inner[:at], inner[at + 4:]
    at = _top_level(rest, " else ")
    condition, other = rest[:at], rest[at + 6:]
    for text, relation in _READ_RELATIONS:
        split = _top_level(condition, text)
        if split is not None:
            compare = Compare(read_back(condition[:split], found), relation,
                              read_back(condition[split + len(text):], found))
            break
    else:
        raise AssertionError(f"no relation in {condition!r}")
    pieces = [(read_back(value, found), compare)]
    if other in found:                         # the next conditional: its pieces follow
        pieces.extend(found[other].pieces)
    elif other != "nan":                       # no "otherwise" prints as nan
        pieces.append((read_back(other, found), None))
    return Piecewise(tuple(pieces))


def test_read_back_reads_what_the_text_printer_writes():
    z = Sym("z")
    tree = Mul(Sym("lambda"), Piecewise(((Num(1), Compare(z, ">", Num(0))),
                                         (Mul(Sym("alpha"), Call("exp", (z,))), Compare(z, "≤", Neg(Num(1)))),
                                         (Num(0.5), None))))
    text = to_text(tree)
    assert read_back(text) == tree, text
    assert read_back("(a-t)^2/n") == parse("(a-t)^2/n")


def kinks(tree: Expr) -> set[float]:
    """Where a tree in z has a kink: z against a number in a condition, |z|, sign(z), and
    max/min of z with a number."""
    from bpcalc.expr import _children

    found, stack, z = set(), [tree], Sym("z")
    while stack:
        node = stack.pop()
        if isinstance(node, Compare):
            for one, other in ((node.left, node.right), (node.right, node.left)):
                if one == z and not symbols(other) - {"pi", "e"}:
                    found.add(float(evaluate(other)))
        if isinstance(node, Call) and node.args == (z,) and node.name in ("abs", "sign", "relu"):
            found.add(0.0)
        if isinstance(node, Call) and node.name in ("max", "min") and z in node.args:
            found.update(float(evaluate(a)) for a in node.args if a != z and not symbols(a))
        stack.extend(_children(node))
    return found


def _activation_kinks(activation: Activation, params) -> list[float]:
    trees = [activation.defining(params=params, numbers=True),
             activation.prime_formula(params=params, numbers=True)]
    if activation.meaning is not None:
        trees.append(activation.meaning)
    return sorted(set().union(*(kinks(tree) for tree in trees)))


def test_kinks_are_found_where_they_are():
    expected = {"relu": [0.0], "leaky_relu": [0.0], "elu": [0.0], "selu": [0.0], "softsign": [0.0],
                "hardtanh": [-1.0, 1.0], "sigmoid": [], "tanh": [], "gelu": [], "silu": [],
                "softplus": [], "identity": []}
    for name, where in expected.items():
        activation = ACTIVATIONS[name]
        assert _activation_kinks(activation, activation.params) == where, name
    assert set(KINK_VALUES) == {n for n in ELEMENTWISE_NAMES
                                if _activation_kinks(ACTIVATIONS[n], ACTIVATIONS[n].params)}


def _evaluates(tree: Expr, env: dict, shape) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(evaluate(tree, env), dtype=float), shape)


def _differ(label: str, got, expected, where, scale=None, rtol=1e-12, atol=1e-15) -> list[str]:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    bound = rtol * np.abs(expected) + atol * (1.0 if scale is None else np.maximum(1.0, np.abs(scale)))
    bad = ~(np.abs(got - expected) <= bound)
    if not bad.any():
        return []
    return [f"{label}: at {np.asarray(where)[bad][:4]} gives {got[bad][:4]}, expected {expected[bad][:4]}"]


def activation_problems(activation: Activation, params: dict | None = None) -> list[str]:
    """Everything that disagrees between an elementwise activation's symbolic and NumPy
    sides (an empty list when all is well):

    * its defining tree evaluated against its NumPy f (a primitive's ``meaning`` too);
    * its symbolic f′ (``prime_formula``, the parameters as symbols and as numbers) against
      its NumPy f′, everywhere including the kinks, and against centered differences of its
      NumPy f away from them; a ``rule`` written by hand against d(formula) too;
    * the "through a" shortcut (``through_output``) and ``prime_from_output`` against f′ at
      a = f(z);
    * every printed tree (``to_text``) read back by the formula parser, to the same numbers.
    """
    params = dict(activation.params if params is None else params)
    problems: list[str] = []
    kink_points = _activation_kinks(activation, params)
    z = np.concatenate([GRID, kink_points, [-40.0, 40.0, -1000.0, 1000.0]])
    away = np.array([min((abs(v - k) for k in kink_points), default=1.0) > 10 * STEP for v in z])
    env = {"z": z, **activation.values(params)}
    try:
        f = activation(z, **params)
        prime = activation.prime(z, **params)
        trees = {
            "f(z)": activation.defining(),
            "f(z) with numbers": activation.defining(params=params, numbers=True),
            "f′(z)": activation.prime_formula(),
            "f′(z) with numbers": activation.prime_formula(params=params, numbers=True),
        }
        for label, tree in trees.items():
            target = f if label.startswith("f(") else prime
            problems += _differ(f"{activation.name} {label} = {to_text(tree)}",
                                _evaluates(tree, env, z.shape), target, z, scale=target)
            problems += _differ(f"{activation.name} {label} printed as {to_text(tree)!r}, read back",
                                _evaluates(read_back(to_text(tree)), env, z.shape), target, z, scale=target)
        if activation.meaning is not None:     # a definition to read, not to compute at ±1000
            moderate = np.abs(z) <= 40
            problems += _differ(f"{activation.name} means {to_text(activation.meaning)}",
                                _evaluates(activation.meaning, env, z.shape)[moderate], f[moderate],
                                z[moderate], scale=f[moderate], rtol=1e-9)
        if activation.rule is not None and activation.formula is not None:
            from bpcalc.calculus import d

            derived = d(activation.defining(), "z")
            problems += _differ(f"{activation.name} rule {to_text(activation.rule)} vs d(formula) = "
                                f"{to_text(derived)}", _evaluates(activation.rule, env, z.shape)[away],
                                _evaluates(derived, env, z.shape)[away], z[away], scale=prime[away])
        grid = z[away & (np.abs(z) < 100)]
        numeric = (activation(grid + STEP, **params) - activation(grid - STEP, **params)) / (2 * STEP)
        ok = _close(activation.prime(grid, **params), numeric, scale=activation(grid, **params))
        if not ok.all():
            problems.append(f"{activation.name} NumPy f′ vs centered differences at {grid[~ok][:4]}: "
                            f"{activation.prime(grid, **params)[~ok][:4]} vs {numeric[~ok][:4]}")
        shortcut = activation.through_output()
        if shortcut is not None:
            through = _evaluates(shortcut, {"a": f, **activation.values(params)}, z.shape)
            problems += _differ(f"{activation.name} f′ through a = {to_text(shortcut)}", through, prime, z,
                                rtol=1e-9, atol=1e-12)
        if activation.prime_from_output is not None:
            problems += _differ(f"{activation.name} prime_from_output", activation.prime_from_output(f),
                                prime, z, rtol=1e-9, atol=1e-12)
    except (FormulaError, ValueError, TypeError) as error:
        problems.append(f"{activation.name}: {type(error).__name__}: {error}")
    return problems


@pytest.mark.parametrize(("name", "params"), _param_cases(ELEMENTWISE_NAMES))
def test_symbolic_side_of_each_activation_agrees_with_numpy(name, params):
    assert activation_problems(ACTIVATIONS[name], params) == []


@pytest.mark.parametrize("name", sorted(KINK_VALUES))
def test_values_and_derivatives_at_the_kinks_are_pytorchs(name):
    activation = ACTIVATIONS[name]
    for point, (value, slope) in KINK_VALUES[name].items():
        z = np.array([point])
        assert activation(z, **activation.params)[0] == value
        assert activation.prime(z, **activation.params)[0] == pytest.approx(slope, rel=1e-15)
        symbolic = evaluate(activation.prime_formula(params=activation.params, numbers=True), {"z": point})
        assert symbolic == pytest.approx(slope, rel=1e-15), (name, point)


def test_the_shortcuts_through_a_are_the_textbook_ones():
    from bpcalc.expr import to_unicode

    assert to_unicode(ACTIVATIONS["sigmoid"].through_output()) == "a·(1 − a)"
    assert to_unicode(ACTIVATIONS["tanh"].through_output()) == "1 − a²"
    assert to_unicode(ACTIVATIONS["identity"].through_output()) == "1"
    assert ACTIVATIONS["relu"].through_output() is None            # 1 for z > 0 needs z


def _loss_inputs_for(loss: Loss, rng: np.random.Generator, params: dict):
    """(a, t) on both sides of every kink: residuals from −3 to 3 (|a − t| around δ for
    huber), probabilities for the cross-entropies, never exactly at a kink."""
    a, t = _loss_inputs(loss.name, rng, wide=True)
    if loss.name == "cross_entropy":
        t = t / t.sum(axis=-1, keepdims=True)
    return a, t


def loss_problems(loss: Loss, params: dict | None = None, outputs: int = 4) -> list[str]:
    """Everything that disagrees between a loss's symbolic and NumPy sides: Σⱼ term(aⱼ, tⱼ)
    against its NumPy cost; ∂C/∂aⱼ (``gradient_formula``) against its NumPy gradient and
    centered differences of the cost; the printed trees read back; each fused δ^L formula
    against its NumPy δ^L."""
    params = dict(loss.params if params is None else params)
    problems: list[str] = []
    rng = np.random.default_rng(11)
    a, t = _loss_inputs_for(loss, rng, params)
    a, t = a[:, :outputs], t[:, :outputs]
    env = {"a": a, "t": t, "n": float(outputs), **loss.values(params)}
    try:
        cost, gradient = loss.cost(a, t, **params), loss.gradient(a, t, **params)
        term = loss.term_formula()
        for label, tree in (("term", term), ("term printed", read_back(to_text(term)))):
            summed = _evaluates(tree, env, a.shape).sum(axis=-1)
            problems += _differ(f"{loss.name} Σⱼ {label} {to_text(term)}", summed, cost, a[:, 0], scale=cost)
        for label, tree in (("∂C/∂a", loss.gradient_formula()),
                            ("∂C/∂a with numbers", loss.gradient_formula(outputs=outputs, params=params,
                                                                        numbers=True))):
            for how, shown in (("", tree), (" printed", read_back(to_text(tree)))):
                problems += _differ(f"{loss.name} {label}{how} = {to_text(tree)}",
                                    _evaluates(shown, env, a.shape), gradient, a, scale=gradient)
        numeric = _cost_differences(loss, a, t, params)
        ok = _close(gradient, numeric, scale=cost[:, None])
        if not ok.all():
            problems.append(f"{loss.name} NumPy gradient vs centered differences: {gradient[~ok]} vs {numeric[~ok]}")
        for activation_name, fused in loss.fused.items():    # targets need not sum to 1 here
            activation = ACTIVATIONS[activation_name]
            z, t = rng.uniform(-4, 4, size=a.shape), rng.uniform(0, 1, size=a.shape)
            a_z = activation(z, **activation.params)
            formula = _evaluates(fused.formula, {"a": a_z, "t": t, "T": t.sum(axis=-1, keepdims=True)}, a.shape)
            problems += _differ(f"{loss.name}+{activation_name} δ = {to_text(fused.formula)}",
                                formula, fused.delta(z, a_z, t), z, rtol=1e-12, atol=1e-15)
    except (FormulaError, ValueError, TypeError) as error:
        problems.append(f"{loss.name}: {type(error).__name__}: {error}")
    return problems


@pytest.mark.parametrize(("name", "params"), LOSS_CASES)
def test_symbolic_side_of_each_loss_agrees_with_numpy(name, params):
    for outputs in (1, 2, 4):
        if name == "cross_entropy" and outputs == 1:
            continue
        assert loss_problems(LOSSES[name], params, outputs) == []


def test_huber_and_l1_follow_pytorch_at_their_kinks():
    """L1Loss at a = t has gradient 0 (sign(0)); HuberLoss is a − t inside δ, δ·sign(a − t)
    outside, continuous at |a − t| = δ."""
    mae, huber = LOSSES["mean_absolute_error"], LOSSES["huber"]
    a, t = np.array([[0.5, 2.0, -1.0]]), np.array([[0.5, 1.0, 1.0]])
    np.testing.assert_array_equal(mae.gradient(a, t), [[0.0, 1 / 3, -1 / 3]])
    assert evaluate(mae.gradient_formula(outputs=3), {"a": 0.5, "t": 0.5}) == 0
    np.testing.assert_array_equal(huber.gradient(a, t), [[0.0, 1.0, -1.0]])
    np.testing.assert_allclose(huber.cost(a, t), [0.5 + 1.5])
    for delta in (0.5, 1.0, 2.0):
        rule = huber.gradient_formula(params={"delta": delta}, numbers=True)
        for r in (-delta, delta):
            assert evaluate(rule, {"a": r, "t": 0.0}) == pytest.approx(r)


# A rule changed anywhere must be reported: each of these is a plausible slip.
_z, _a, _t = Sym("z"), Sym("a"), Sym("t")
_sigma = Call("sigma", (_z,))
ACTIVATION_MUTATIONS = [
    ("tanh", {"rule": Sub(Num(1), _a)}),                                  # 1 − a, issue 9's example
    ("tanh", {"rule": Sub(Num(1), Call("tanh", (_z,)))}),
    ("sigmoid", {"rule": Mul(_sigma, Add(Num(1), _sigma))}),
    ("sigmoid", {"meaning": Div(Num(1), Add(Num(1), Call("exp", (_z,))))}),
    ("relu", {"rule": Piecewise(((Num(1), Compare(_z, "≥", Num(0))), (Num(0), None)))}),  # at 0 only
    ("softplus", {"rule": Call("sigma", (Neg(_z),))}),
    ("softsign", {"rule": Div(Num(1), Add(Num(1), Call("abs", (_z,))))}),
    ("gelu", {"rule": Div(Add(Num(1), Call("erf", (Div(_z, Call("sqrt", (Num(2),))),))), Num(2))}),
    ("hardtanh", {"formula": Piecewise(((Num(-1), Compare(_z, "<", Num(-1))),
                                        (Num(1), Compare(_z, ">", Num(1))), (_z, None)))}),  # f′(±1) = 1
    ("elu", {"formula": Piecewise(((_z, Compare(_z, ">", Num(0))), (Sub(Call("exp", (_z,)), Num(1)), None)))}),
    ("leaky_relu", {"symbols": {"slope": "beta"}}),                       # α left without a value
    ("selu", {"constants": {"lambda": 1.0507, "alpha": 1.6733}}),          # rounded constants
]
LOSS_MUTATIONS = [
    ("half_squared_error", {"term": Pow(Sub(_a, _t), Num(2))}),
    ("mean_squared_error", {"term": Pow(Sub(_a, _t), Num(2))}),               # the 1/n forgotten
    ("binary_cross_entropy", {"term": Neg(Mul(_t, Call("ln", (_a,))))}),
    ("mean_absolute_error", {"term": Call("abs", (Sub(_a, _t),))}),
    ("huber", {"term": Piecewise(((Mul(Num(0.5), Pow(Sub(_a, _t), Num(2))),
                                   Compare(Call("abs", (Sub(_a, _t),)), "≤", Sym("delta", "h"))),
                                  (Sub(Call("abs", (Sub(_a, _t),)), Mul(Num(0.5), Sym("delta", "h"))), None)))}),
]


@pytest.mark.parametrize(("name", "change"), ACTIVATION_MUTATIONS,
                         ids=[f"{n}-{next(iter(c))}" for n, c in ACTIVATION_MUTATIONS])
def test_a_wrong_activation_rule_is_reported(name, change):
    import dataclasses

    original = ACTIVATIONS[name]
    assert activation_problems(original) == []
    wrong = dataclasses.replace(original, **change)
    assert any(activation_problems(wrong, params) for params in _param_sets(original)), (
        f"{name} with {change} went unnoticed")


@pytest.mark.parametrize(("name", "change"), LOSS_MUTATIONS, ids=[n for n, _ in LOSS_MUTATIONS])
def test_a_wrong_loss_rule_is_reported(name, change):
    import dataclasses

    original = LOSSES[name]
    assert loss_problems(original) == []
    wrong = dataclasses.replace(original, **change)
    for params in _param_sets(original):
        if loss_problems(wrong, params):
            return
    pytest.fail(f"{name} with {change} went unnoticed")


def test_a_wrong_fused_rule_is_reported():
    import dataclasses

    loss = LOSSES["cross_entropy"]
    fused = dataclasses.replace(loss.fused["softmax"], formula=Sub(_a, _t))  # right only if Σt = 1
    wrong = dataclasses.replace(loss, fused={"softmax": fused})
    assert loss_problems(loss) == [] and loss_problems(wrong)
