"""The activation and loss registries, checked entry by entry.

Every test is parametrised over ``ACTIVATIONS`` / ``LOSSES`` (and over each
loss's ``fused`` forms), so a new registry entry is tested automatically; the
only hand-written rows are the independent reference formulas below (written
with :mod:`math`, one scalar at a time), and a test fails until a new entry
has its row.

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
from bpcalc.errors import BpcalcError
from bpcalc.losses import LOSSES
from bpcalc.problem import Problem
from bpcalc.solver import solve

STEP = 1e-6
RTOL = 1e-6
FLOOR = 2e-9            # ≈ 10 ε / STEP: rounding in a difference quotient of O(1) values

# z values for derivative checks: -6..6 without 0 (the kinks of relu and leaky_relu
# are at 0; the nearest grid point is 0.12 away, far more than STEP).
GRID = np.linspace(-6.0, 6.0, 50)
assert np.min(np.abs(GRID)) > 0.1

# Non-default values to try for activation parameters (e.g. leaky_relu's slope).
PARAMETER_VALUES = {"slope": (0.0, 0.2, 0.5, 1.5)}


# ---------------------------------------------------------------- references
def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


# name -> f(z, **params), scalar in, scalar out (elementwise activations)
ELEMENTWISE_REFERENCE = {
    "identity": lambda z: z,
    "linear": lambda z: z,
    "sigmoid": _sigmoid,
    "tanh": math.tanh,
    "relu": lambda z: z if z > 0 else 0.0,
    "leaky_relu": lambda z, slope=0.01: z if z > 0 else slope * z,
    "softplus": lambda z: math.log1p(math.exp(z)) if z < 30 else z + math.log1p(math.exp(-z)),
}


def _softmax_reference(row: list[float]) -> list[float]:
    top = max(row)
    exps = [math.exp(v - top) for v in row]
    return [e / sum(exps) for e in exps]


# name -> f(vector) for the activations whose Jacobian is not diagonal
VECTOR_REFERENCE = {"softmax": _softmax_reference}

# name -> C_x(a, t) for one example (lists of floats)
LOSS_REFERENCE = {
    "half_squared_error": lambda a, t: 0.5 * sum((ai - ti) ** 2 for ai, ti in zip(a, t)),
    "squared_error": lambda a, t: sum((ai - ti) ** 2 for ai, ti in zip(a, t)),
    "mean_squared_error": lambda a, t: sum((ai - ti) ** 2 for ai, ti in zip(a, t)) / len(a),
    "cross_entropy": lambda a, t: -sum(ti * math.log(ai) for ai, ti in zip(a, t) if ti != 0),
    "binary_cross_entropy": lambda a, t: -sum(
        (ti * math.log(ai) if ti != 0 else 0.0) + ((1 - ti) * math.log(1 - ai) if ti != 1 else 0.0)
        for ai, ti in zip(a, t)),
}

ACTIVATION_NAMES = sorted(ACTIVATIONS)
ELEMENTWISE_NAMES = [n for n in ACTIVATION_NAMES if ACTIVATIONS[n].elementwise]
LOSS_NAMES = sorted(LOSSES)
FUSED = [(loss, act) for loss in LOSS_NAMES for act in sorted(LOSSES[loss].fused)]


def _param_sets(activation: Activation) -> list[dict[str, float]]:
    """The default parameters, then each parameter set to each value worth trying."""
    sets = [dict(activation.params)]
    for key in activation.params:
        for value in PARAMETER_VALUES.get(key, (0.3,)):
            sets.append({**activation.params, key: value})
    return sets


def _param_cases(names: list[str]) -> list:
    return [pytest.param(name, params, id=f"{name}-{params}" if params else name)
            for name in names for params in _param_sets(ACTIVATIONS[name])]


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
    missing = [n for n in ACTIVATIONS if n not in ELEMENTWISE_REFERENCE and n not in VECTOR_REFERENCE]
    assert not missing, f"add a reference formula for {missing} to this file"


def test_every_loss_has_a_reference_row():
    missing = [n for n in LOSSES if n not in LOSS_REFERENCE]
    assert not missing, f"add a reference formula for {missing} to this file"


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


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("wide", [False, True], ids=["probabilities", "wide"])
def test_loss_cost_matches_reference(name, wide, no_warnings):
    loss = LOSSES[name]
    a, t = _loss_inputs(name, np.random.default_rng(5), wide)
    cost = loss.cost(a, t)
    assert cost.shape == (3,) and cost.dtype == np.float64
    expected = [LOSS_REFERENCE[name](list(a[x]), list(t[x])) for x in range(3)]
    np.testing.assert_allclose(cost, expected, rtol=1e-13)


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("wide", [False, True], ids=["probabilities", "wide"])
def test_loss_gradient_matches_centered_differences(name, wide, no_warnings):
    loss = LOSSES[name]
    a, t = _loss_inputs(name, np.random.default_rng(6), wide)
    grad = loss.gradient(a, t)
    assert grad.shape == a.shape and grad.dtype == np.float64
    numeric = np.empty_like(a)
    for index in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[index] += STEP
        down[index] -= STEP
        x = index[0]
        numeric[index] = (loss.cost(up, t)[x] - loss.cost(down, t)[x]) / (2 * STEP)
    ok = _close(grad, numeric, scale=loss.cost(a, t)[:, None])
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
