"""The solver: forward values, error terms, gradients and SGD updates.

Nothing here compares bpcalc with its own earlier output. The expected values
come from a derivation by hand (the reference homework), from centered finite
differences of the loss (re-solving with one parameter moved), from a small
forward pass written in this file with :mod:`math`, and from the independent
sympy oracle in ``tests/sympy_reference.py`` when it is usable.
"""

from __future__ import annotations

import dataclasses
import glob
import importlib.util
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import references
import yaml
from clitools import LAYERED
from hypothesis import HealthCheck, assume, given, note, settings
from networks import (
    ELEMENTWISE,
    KINKED,
    KINKS,
    LOSS_KINKS,
    LOSS_NAMES,
    OUTPUT_ONLY,
    PROBABILITY_OUTPUTS,
    needs_probabilities,
    networks,
    off_kinks,
)

from bpcalc.activations import ACTIVATIONS
from bpcalc.errors import BpcalcError
from bpcalc.losses import LOSSES
from bpcalc.problem import Layer, Problem, load
from bpcalc.solver import solve

ROOT = Path(__file__).resolve().parent.parent
PROBLEM_FILES = [str(path) for path in LAYERED]   # graphs have their own oracle (test_graph_problems)


# ============================================================ 1. the homework
X, T, W1, W2, B, ETA = 3.0, 1.0, 0.01, -5.0, -1.0, 0.1


def _homework_by_hand() -> dict[str, float]:
    """One ReLU neuron feeding one sigmoid neuron, C = ½(y − t)², worked by hand."""
    z1 = W1 * X                                   # 0.03
    a1 = max(z1, 0.0)                             # ReLU(0.03) = 0.03
    z2 = W2 * a1 + B                              # −5·0.03 − 1 = −1.15
    y = 1.0 / (1.0 + math.exp(-z2))               # σ(−1.15) = 1/(1 + e^1.15)
    cost = 0.5 * (y - T) ** 2
    dC_dy = y - T                                 # ∂C/∂y for C = ½(y − t)²
    sigma_prime = y * (1.0 - y)                   # σ′(z) = σ(z)(1 − σ(z))
    delta2 = dC_dy * sigma_prime                  # BP1
    relu_prime = 1.0 if z1 > 0 else 0.0
    delta1 = W2 * delta2 * relu_prime             # BP2
    grads = {"b": delta2, "w2": delta2 * a1, "w1": delta1 * X}   # BP3, BP4
    return {
        "z1": z1, "a1": a1, "z2": z2, "y": y, "cost": cost, "delta1": delta1, "delta2": delta2,
        **{f"dC_d{k}": v for k, v in grads.items()},
        **{f"new_{k}": v - ETA * grads[k] for k, v in (("w1", W1), ("w2", W2), ("b", B))},
    }


def _homework_problem() -> Problem:
    return Problem.from_dict({
        "input": X, "target": T, "loss": "half_squared_error", "learning_rate": ETA,
        "layers": [
            {"activation": "relu", "weights": W1, "names": {"weights": "w1"}},
            {"activation": "sigmoid", "weights": W2, "bias": B, "names": {"weights": "w2", "bias": "b"}},
        ],
    })


def test_hand_derivation_matches_the_course_numbers():
    hand = _homework_by_hand()
    assert hand["z1"] == pytest.approx(0.03, abs=1e-15)
    assert hand["z2"] == pytest.approx(-1.15, abs=1e-15)
    assert hand["y"] == pytest.approx(1 / (1 + math.exp(1.15)), rel=1e-15)
    assert hand["dC_dw1"] == pytest.approx(2.0809166, abs=5e-8)
    assert hand["dC_dw2"] == pytest.approx(-0.0041618331, abs=5e-11)
    assert hand["dC_db"] == pytest.approx(-0.13872777, abs=5e-9)
    assert hand["new_w1"] == pytest.approx(0.01 - 0.1 * 2.0809166, abs=1e-8)


@pytest.mark.parametrize("source", ["dict", "file"])
def test_reference_homework(source):
    hand = _homework_by_hand()
    problem = load(ROOT / "problems" / "simple_network.yaml") if source == "file" else _homework_problem()
    solution = solve(problem)
    first, second = solution.layers
    assert first.z[0, 0] == pytest.approx(hand["z1"], rel=1e-14)
    assert first.a[0, 0] == pytest.approx(hand["a1"], rel=1e-14)
    assert second.z[0, 0] == pytest.approx(hand["z2"], rel=1e-14)
    assert second.a[0, 0] == pytest.approx(hand["y"], rel=1e-14)
    assert solution.loss == pytest.approx(hand["cost"], rel=1e-13)
    assert second.delta[0, 0] == pytest.approx(hand["delta2"], rel=1e-13)
    assert first.delta[0, 0] == pytest.approx(hand["delta1"], rel=1e-13)
    grads = solution.gradients()
    assert set(grads) == {"w1", "w2", "b"}
    assert grads["w1"] == pytest.approx(hand["dC_dw1"], rel=1e-13)
    assert grads["w2"] == pytest.approx(hand["dC_dw2"], rel=1e-13)
    assert grads["b"] == pytest.approx(hand["dC_db"], rel=1e-13)
    updated = solution.updated()
    for name in ("w1", "w2", "b"):
        assert updated[name] == pytest.approx(hand[f"new_{name}"], rel=1e-13)
    assert first.dC_db is None and first.b_updated is None   # the hidden neuron has no bias


# ====================================== 2. property: gradients = differences
def test_property_test_covers_the_registries():
    assert {"relu", "leaky_relu", "selu", "hardtanh", "elu", "softsign"} <= KINKED
    assert not {"sigmoid", "tanh", "gelu", "silu", "softplus"} & KINKED
    assert KINKS["hardtanh"] == (-1.0, 1.0) and KINKS["relu"] == (0.0,)
    assert LOSS_KINKS["mean_absolute_error"] == (0.0,) and LOSS_KINKS["huber"] == (-1.0, 1.0)
    assert LOSS_KINKS["half_squared_error"] == ()
    assert {"sigmoid", "softmax"} <= set(PROBABILITY_OUTPUTS)
    assert {"cross_entropy", "binary_cross_entropy"} == {n for n in LOSS_NAMES if needs_probabilities(n)}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_kinks_are_only_where_the_property_tests_look(name):
    """networks.KINKS probes −1, 0 and 1; a derivative jump anywhere else would make the
    difference tests flaky, so scan for one."""
    activation = ACTIVATIONS[name]
    z = np.linspace(-6, 6, 120001)                                 # steps of 1e-4
    prime = activation.prime(z, **activation.params)
    slope = np.diff(prime)
    jumps = z[1:][np.abs(slope) > 1e-3]                           # smooth f′ moves ~1e-4 per step
    bends = z[1:-1][np.abs(np.diff(slope)) > 1e-6]                # f″ jumps: ~1e-4 · 1e-4 · jump
    assert all(min((abs(v - k) for k in KINKS[name]), default=1) < 1e-3
               for v in np.concatenate([jumps, bends])), (name, jumps[:5], bends[:5])


# --- an independent forward pass, scalar by scalar, for z, a and the loss
def _f(name: str, z: list[float], slope: float) -> list[float]:
    if name in references.VECTOR_ACTIVATION:
        return references.VECTOR_ACTIVATION[name](z)
    f = references.ACTIVATION[name]
    return [f(v, slope=slope) if name == "leaky_relu" else f(v) for v in z]


def _cost(loss: str, a: list[float], t: list[float]) -> float:
    return references.LOSS[loss](a, t)


def _reference_forward(doc: dict) -> tuple[list, list, float | None]:
    """zs[x][l], the outputs a^L per example, and the reduced loss; None for the loss if a
    log(0) makes it infinite."""
    examples = doc.get("examples") or [{"input": doc["input"], "target": doc["target"]}]
    zs, outputs, costs = [], [], []
    for example in examples:
        a, z_layers = list(example["input"]), []
        for layer in doc["layers"]:
            bias = layer.get("bias") or [0.0] * len(layer["weights"])
            z = [sum(w * v for w, v in zip(row, a)) + b for row, b in zip(layer["weights"], bias)]
            z_layers.append(z)
            a = _f(layer["activation"], z, layer.get("slope", 0.01))
        zs.append(z_layers)
        outputs.append(a)
        try:
            costs.append(_cost(doc.get("loss", "half_squared_error"), a, list(example["target"])))
        except (ValueError, ZeroDivisionError):
            costs.append(None)
    if None in costs:
        return zs, outputs, None
    total = sum(costs)
    return zs, outputs, total / len(costs) if doc.get("reduction", "mean") == "mean" else total


def _with_parameter(problem: Problem, number: int, kind: str, index: tuple, value: float) -> Problem:
    """The problem with one weight or bias (layer number from 1) set to value."""
    layers = list(problem.layers)
    layer = layers[number - 1]
    array = (layer.weights if kind == "weights" else layer.bias).copy()
    array[index] = value
    layers[number - 1] = dataclasses.replace(layer, **{kind: array})
    return dataclasses.replace(problem, layers=tuple(layers))


def _loss_of(problem: Problem) -> float:
    return solve(problem).loss


def _centered_difference(problem, number, kind, index, step):
    value = (problem.layers[number - 1].weights if kind == "weights" else problem.layers[number - 1].bias)[index]
    up = _loss_of(_with_parameter(problem, number, kind, index, value + step))
    down = _loss_of(_with_parameter(problem, number, kind, index, value - step))
    return (up - down) / (2 * step)


STEP = 1e-6
RTOL = 1e-6


def _agrees(analytic: float, numeric: float, loss: float) -> bool:
    """Relative error below 1e-6, or, near 0, an absolute error below 1e-8·max(1, |C|):
    the rounding in a difference quotient of C is about 10 ε |C| / h ≈ 2e-9 |C|."""
    return abs(analytic - numeric) <= RTOL * max(abs(analytic), abs(numeric)) + 1e-8 * max(1.0, abs(loss))


def _default_names(doc: dict) -> dict[tuple, str]:
    """(layer, kind, index) -> the default parameter name w{l}_{jk} / b{l}_{j}, 1-based."""
    names = {}
    for number, layer in enumerate(doc["layers"], start=1):
        for j, row in enumerate(layer["weights"]):
            for k in range(len(row)):
                names[(number, "weights", (j, k))] = f"w{number}_{j + 1}{k + 1}"
            if layer.get("bias") is not None:
                names[(number, "bias", (j,))] = f"b{number}_{j + 1}"
    return names


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_layers=4, max_width=5, max_examples=4))
def test_gradients_match_finite_differences_of_the_loss(doc):
    note(json.dumps(doc))
    problem = Problem.from_dict(doc)
    zs, outputs, reference_loss = _reference_forward(doc)
    all_z = [abs(v) for per_example in zs for layer in per_example for v in layer]
    assume(max(all_z) < 30)                       # no overflow games: that is test_activations'
    assume(off_kinks(doc, zs, outputs))           # keep clear of the ReLU, hardtanh, L1 kinks
    assume(reference_loss is not None)            # e.g. a sigmoid output rounded to exactly 1
    loss_name = doc["loss"]
    if needs_probabilities(loss_name) and doc["layers"][-1]["activation"] not in LOSSES[loss_name].fused:
        # unfused cross-entropy: ln(1 − a) loses digits as a → 1; keep differences meaningful
        assume(all(1e-3 < v < 1 - 1e-3 for row in outputs for v in row))

    solution = solve(problem)

    # forward values and the loss against the scalar reference
    for number, layer in enumerate(solution.layers):
        np.testing.assert_allclose(layer.z, [per_example[number] for per_example in zs], rtol=1e-10, atol=1e-12)
    assert solution.loss == pytest.approx(reference_loss, rel=1e-9, abs=1e-12)

    # every gradient against a centered difference of the loss, under its default name
    gradients = solution.gradients()
    names = _default_names(doc)
    assert set(gradients) == set(names.values())
    for (number, kind, index), name in names.items():
        numeric = _centered_difference(problem, number, kind, index, STEP)
        assert _agrees(gradients[name], numeric, solution.loss), (
            f"{name}: solve gives {gradients[name]!r}, centered difference {numeric!r}")
        array = solution.layers[number - 1].dC_dw if kind == "weights" else solution.layers[number - 1].dC_db
        assert array[index] == gradients[name]

    # SGD: updated = value − η·gradient, fixed parameters unchanged, no η -> no update
    rate = doc.get("learning_rate")
    updated = solution.updated()
    for parameter in solution.parameters():
        if rate is None:
            assert parameter.updated is None
            continue
        fixed = doc["layers"][parameter.layer - 1].get("fixed") or []
        if parameter.kind in ([fixed] if isinstance(fixed, str) else fixed):
            assert updated[parameter.name] == parameter.value
        else:
            assert updated[parameter.name] == pytest.approx(parameter.value - rate * gradients[parameter.name],
                                                            rel=1e-15, abs=1e-300)
    if rate is None:
        assert updated == {}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_layers=4, max_width=5, max_examples=4))
def test_delta_is_the_error_of_each_examples_own_cost(doc):
    """δ^l_x = ∂C_x/∂z^l for example x alone, checked by moving a zero bias added to z."""
    zs, outputs, reference_loss = _reference_forward(doc)
    assume(reference_loss is not None)
    assume(max(abs(v) for e in zs for layer in e for v in layer) < 30)
    assume(off_kinks(doc, zs, outputs))
    loss_name = doc["loss"]
    if needs_probabilities(loss_name) and doc["layers"][-1]["activation"] not in LOSSES[loss_name].fused:
        assume(all(1e-3 < v < 1 - 1e-3 for row in outputs for v in row))
    solution = solve(Problem.from_dict(doc))
    examples = doc.get("examples") or [{"input": doc["input"], "target": doc["target"]}]
    for x, example in enumerate(examples):
        alone = {key: value for key, value in doc.items() if key not in ("input", "target", "examples")}
        alone["examples"] = [example]
        alone["layers"] = [{**layer, "bias": layer.get("bias") or [0.0] * len(layer["weights"])}
                           for layer in doc["layers"]]
        single = Problem.from_dict(alone)
        for number, layer in enumerate(single.layers, start=1):
            for j in range(layer.size):
                numeric = _centered_difference(single, number, "bias", (j,), STEP)
                analytic = solution.layers[number - 1].delta[x, j]
                assert _agrees(analytic, numeric, solve(single).loss), (x, number, j, analytic, numeric)


# ==================================================== 3. SGD updates
MAZUR = ROOT / "problems" / "mazur_2_2_2.yaml"


def _small(**overrides) -> dict:
    doc = {
        "examples": [{"input": [0.5, -1.0], "target": [0.2, 0.7]},
                     {"input": [1.5, 0.25], "target": [0.9, 0.1]}],
        "loss": "half_squared_error", "learning_rate": 0.4,
        "layers": [
            {"activation": "tanh", "weights": [[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5]], "bias": [0.1, -0.2, 0.15]},
            {"activation": "sigmoid", "weights": [[0.6, -0.8, 0.3], [0.1, 0.2, -0.4]], "bias": [0.2, -0.1]},
        ],
    }
    doc.update(overrides)
    return doc


def test_update_is_value_minus_rate_times_gradient():
    doc = _small()
    problem = Problem.from_dict(doc)
    solution = solve(problem)
    for number, (layer, result) in enumerate(zip(doc["layers"], solution.layers), start=1):
        w, b = np.array(layer["weights"]), np.array(layer["bias"])
        np.testing.assert_array_equal(result.w_updated, w - 0.4 * result.dC_dw)
        np.testing.assert_array_equal(result.b_updated, b - 0.4 * result.dC_db)
        for j, row in enumerate(layer["weights"]):
            for k, value in enumerate(row):
                name = f"w{number}_{j + 1}{k + 1}"
                assert solution.updated()[name] == value - 0.4 * solution.gradients()[name]
    # the problem itself is not modified by solving it
    np.testing.assert_array_equal(problem.layers[0].weights, doc["layers"][0]["weights"])


@pytest.mark.parametrize("fixed", ["weights", "bias", ["weights", "bias"], ["bias"]])
def test_fixed_parameters_keep_their_values_but_report_gradients(fixed):
    doc = _small()
    doc["layers"][0]["fixed"] = fixed
    solution = solve(Problem.from_dict(doc))
    frozen = {fixed} if isinstance(fixed, str) else set(fixed)
    first, second = solution.layers
    w, b = np.array(doc["layers"][0]["weights"]), np.array(doc["layers"][0]["bias"])
    if "weights" in frozen:
        np.testing.assert_array_equal(first.w_updated, w)
    else:
        np.testing.assert_array_equal(first.w_updated, w - 0.4 * first.dC_dw)
    if "bias" in frozen:
        np.testing.assert_array_equal(first.b_updated, b)
    else:
        np.testing.assert_array_equal(first.b_updated, b - 0.4 * first.dC_db)
    assert np.all(first.dC_dw != 0) and np.all(first.dC_db != 0)   # still computed
    # the other layer is trained
    assert not np.array_equal(second.w_updated, np.array(doc["layers"][1]["weights"]))
    for parameter in solution.parameters():
        assert parameter.fixed == (parameter.layer == 1 and parameter.kind in frozen)
        if parameter.fixed:
            assert parameter.updated == parameter.value


def test_mazur_fixed_biases_unchanged():
    solution = solve(load(MAZUR))
    updated = solution.updated()
    for name in ("b1_1", "b1_2", "b2_1", "b2_2"):
        assert updated[name] == {"b1": 0.35, "b2": 0.60}[name[:2]]
    # Mazur's published new weights (η = 0.5): w5⁺ = 0.35891648, w1⁺ = 0.149780716
    assert updated["w5"] == pytest.approx(0.35891648, abs=5e-9)
    assert updated["w1"] == pytest.approx(0.149780716, abs=5e-10)


def test_no_learning_rate_no_updates():
    doc = _small()
    del doc["learning_rate"]
    solution = solve(Problem.from_dict(doc))
    assert solution.problem.learning_rate is None
    assert solution.updated() == {}
    assert all(layer.w_updated is None and layer.b_updated is None for layer in solution.layers)
    assert all(p.updated is None for p in solution.parameters())
    result = solution.to_dict()
    assert result["updated"] == {} and result["learning_rate"] is None
    assert all(layer["w_updated"] is None and layer["b_updated"] is None for layer in result["layers"])
    assert len(result["gradients"]) == 3 * 2 + 3 + 2 * 3 + 2       # gradients are still there


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_reduction_scales_gradients_and_loss(reduction):
    """mean: C = (1/m) Σ C_x; sum: C = Σ C_x — checked against each example solved alone."""
    doc = _small(reduction=reduction)
    batch = solve(Problem.from_dict(doc))
    alone = [solve(Problem.from_dict(_small(examples=[e], reduction="sum"))) for e in doc["examples"]]
    scale = 0.5 if reduction == "mean" else 1.0
    assert batch.loss == pytest.approx(scale * sum(s.loss for s in alone), rel=1e-14)
    for name, value in batch.gradients().items():
        assert value == pytest.approx(scale * sum(s.gradients()[name] for s in alone), rel=1e-12, abs=1e-16)
    for x, single in enumerate(alone):         # δ is per example, never divided by m
        for layer, lone in zip(batch.layers, single.layers):
            np.testing.assert_allclose(layer.delta[x], lone.delta[0], rtol=1e-14)


# ==================================================== 4. to_dict contract
LAYER_KEYS = {"z", "a", "delta", "dC_dw", "dC_db", "w_updated", "b_updated"}


def _homework_like(single: bool, learning_rate=0.1) -> dict:
    data = ({"input": [1.0, 2.0], "target": [0.5]} if single else
            {"examples": [{"input": [1.0, 2.0], "target": [0.5]}, {"input": [0.0, -1.0], "target": [0.1]},
                          {"input": [3.0, 0.5], "target": [0.9]}]})
    doc = {**data, "layers": [
        {"activation": "relu", "weights": [[0.3, -0.1], [0.2, 0.4], [-0.5, 0.6]]},           # no bias
        {"activation": "sigmoid", "weights": [[0.7, -0.2, 0.1]], "bias": [0.05]},
    ]}
    if learning_rate is not None:
        doc["learning_rate"] = learning_rate
    return doc


def test_to_dict_for_one_input():
    result = solve(Problem.from_dict(_homework_like(single=True))).to_dict()
    assert {"loss", "layers", "gradients", "updated"} <= set(result)
    assert isinstance(result["loss"], float)
    assert len(result["layers"]) == 2
    sizes = [(3, 2), (1, 3)]
    for layer, (n, n_prev) in zip(result["layers"], sizes):
        assert LAYER_KEYS <= set(layer)
        for key in ("z", "a", "delta"):                 # one vector: n_l numbers
            assert len(layer[key]) == n and all(isinstance(v, float) for v in layer[key]), key
        assert np.array(layer["dC_dw"]).shape == (n, n_prev)
        assert np.array(layer["w_updated"]).shape == (n, n_prev)
    hidden, output = result["layers"]
    assert hidden["dC_db"] is None and hidden["b_updated"] is None
    assert len(output["dC_db"]) == 1 and len(output["b_updated"]) == 1
    assert set(result["gradients"]) == {"w1_11", "w1_12", "w1_21", "w1_22", "w1_31", "w1_32",
                                        "w2_11", "w2_12", "w2_13", "b2_1"}
    assert set(result["updated"]) == set(result["gradients"])
    assert all(isinstance(v, float) for v in result["gradients"].values())
    json.dumps(result, allow_nan=False)


@pytest.mark.parametrize("count", [1, 3])
def test_to_dict_for_examples_has_one_vector_per_example(count):
    doc = _homework_like(single=False)
    doc["examples"] = doc["examples"][:count]
    result = solve(Problem.from_dict(doc)).to_dict()
    for layer, n in zip(result["layers"], (3, 1)):
        for key in ("z", "a", "delta"):
            assert np.array(layer[key]).shape == (count, n), key
            assert all(isinstance(row, list) for row in layer[key])
        assert np.array(layer["dC_dw"]).ndim == 2           # gradients are not per example
    json.dumps(result, allow_nan=False)


def test_to_dict_without_learning_rate_is_json():
    result = solve(Problem.from_dict(_homework_like(single=True, learning_rate=None))).to_dict()
    assert result["updated"] == {}
    assert all(layer["w_updated"] is None and layer["b_updated"] is None for layer in result["layers"])
    json.dumps(result, allow_nan=False)


def test_to_dict_values_agree_with_the_solution():
    solution = solve(Problem.from_dict(_homework_like(single=False)))
    result = solution.to_dict()
    assert result["loss"] == solution.loss
    assert result["gradients"] == solution.gradients()
    assert result["updated"] == solution.updated()
    for layer, data in zip(solution.layers, result["layers"]):
        np.testing.assert_array_equal(np.array(data["dC_dw"]), layer.dC_dw)
        np.testing.assert_array_equal(np.array(data["delta"]), layer.delta)


@pytest.mark.parametrize("path", PROBLEM_FILES, ids=os.path.basename)
def test_to_dict_of_every_problem_file_is_strict_json(path):
    text = json.dumps(solve(load(path)).to_dict(), allow_nan=False)
    assert json.loads(text)["layers"]


def test_to_dict_of_a_saturated_solution_is_strict_json():
    doc = {"input": [1.0], "target": [1.0], "loss": "binary_cross_entropy", "learning_rate": 1.0,
           "layers": [{"activation": "sigmoid", "weights": [[1000.0]], "bias": [0.0]}]}
    json.dumps(solve(Problem.from_dict(doc)).to_dict(), allow_nan=False)


# ==================================================== 5. vectorisation
def test_width_1000_network_over_256_examples():
    rng = np.random.default_rng(0)
    n, m = 1000, 256

    def layer(activation, n_out, n_in, bias=True):
        return Layer(ACTIVATIONS[activation], rng.normal(0, 1 / math.sqrt(n_in), size=(n_out, n_in)),
                     rng.normal(0, 0.1, size=n_out) if bias else None, (), None if not bias else (),
                     frozenset(), dict(ACTIVATIONS[activation].params))

    # built directly: validating three million numbers one by one is not what this tests
    problem = Problem(layers=(layer("tanh", n, n), layer("relu", n, n), layer("sigmoid", n, n, bias=False)),
                      inputs=rng.normal(size=(m, n)), targets=rng.uniform(size=(m, n)),
                      loss=LOSSES["half_squared_error"], reduction="mean", learning_rate=0.01, single=False)
    solution = solve(problem)
    for result in solution.layers:
        for name in ("z", "a", "delta"):
            values = getattr(result, name)
            assert values.shape == (m, n) and values.dtype == np.float64 and np.isfinite(values).all(), name
        assert result.dC_dw.shape == (n, n) and np.isfinite(result.dC_dw).all()
        assert result.w_updated.shape == (n, n) and np.isfinite(result.w_updated).all()
    assert solution.layers[0].dC_db.shape == (n,)
    assert solution.layers[2].dC_db is None
    assert solution.example_losses.shape == (m,)
    assert np.isfinite(solution.loss)


def test_batch_equals_examples_one_at_a_time():
    rng = np.random.default_rng(1)
    doc = {"examples": [{"input": rng.normal(size=6).tolist(), "target": rng.uniform(size=4).tolist()}
                        for _ in range(8)],
           "loss": "binary_cross_entropy", "reduction": "sum",
           "layers": [{"activation": "softplus", "weights": rng.normal(size=(20, 6)).tolist(),
                       "bias": rng.normal(size=20).tolist()},
                      {"activation": "sigmoid", "weights": (rng.normal(size=(4, 20)) / 4).tolist()}]}
    batch = solve(Problem.from_dict(doc))
    total = None
    for x, example in enumerate(doc["examples"]):
        single = solve(Problem.from_dict({**doc, "examples": [example]}))
        for layer, lone in zip(batch.layers, single.layers):
            np.testing.assert_allclose(layer.z[x], lone.z[0], rtol=1e-13)
            np.testing.assert_allclose(layer.delta[x], lone.delta[0], rtol=1e-12, atol=1e-15)
        grads = np.array(list(single.gradients().values()))
        total = grads if total is None else total + grads
    np.testing.assert_allclose(list(batch.gradients().values()), total, rtol=1e-10, atol=1e-14)


def test_overflow_is_reported_as_a_bpcalc_error_not_nan():
    doc = {"input": [1e200], "target": [0.0], "loss": "squared_error", "learning_rate": 0.1,
           "layers": [{"activation": "identity", "weights": [[1e200]]}, {"activation": "tanh", "weights": [[1.0]]}]}
    with pytest.raises(BpcalcError) as info:
        solve(Problem.from_dict(doc))
    assert "\n" not in str(info.value) and "overflow" in str(info.value)


# ==================================================== 6. float64
def _arrays(solution):
    for layer in solution.layers:
        for name in ("z", "a", "delta", "dC_dw", "dC_db", "w_updated", "b_updated"):
            value = getattr(layer, name)
            if value is not None:
                yield name, value


@pytest.mark.parametrize("kind", ["ints", "float32", "strings"])
def test_float64_everywhere(kind):
    convert = {"ints": lambda v: np.rint(np.asarray(v)).astype(int).tolist(),
               "float32": lambda v: np.asarray(v, dtype=np.float32),
               "strings": lambda v: np.vectorize(lambda x: str(float(x)), otypes=[object])(np.asarray(v, dtype=float)).tolist()}[kind]
    doc = {"input": convert([1.0, 2.0]), "target": convert([1.0]), "learning_rate": 1,
           "layers": [{"activation": "tanh", "weights": convert([[1.0, -1.0], [2.0, 0.0]]),
                       "bias": convert([0.0, 1.0])},
                      {"activation": "sigmoid", "weights": convert([[1.0, 3.0]]), "bias": convert([-1.0])}]}
    problem = Problem.from_dict(doc)
    assert problem.inputs.dtype == problem.targets.dtype == np.float64
    for layer in problem.layers:
        assert layer.weights.dtype == np.float64 and layer.bias.dtype == np.float64
    solution = solve(problem)
    for name, value in _arrays(solution):
        assert value.dtype == np.float64, name
    assert type(solution.loss) is float
    for parameter in solution.parameters():
        assert type(parameter.value) is float and type(parameter.gradient) is float
        assert type(parameter.updated) is float


def test_float64_precision_is_kept():
    """A difference that float32 would round away: 1 + 1e-12 − 1."""
    doc = {"input": [1.0], "target": [0.0], "loss": "squared_error",
           "layers": [{"activation": "identity", "weights": [[1.0 + 1e-12]], "bias": [-1.0]}]}
    solution = solve(Problem.from_dict(doc))
    assert solution.layers[0].z[0, 0] == pytest.approx(1e-12, rel=1e-3)
    assert solution.gradients()["b1_1"] == pytest.approx(2e-12, rel=1e-3)


# ==================================================== 7. the sympy oracle
def _oracle():
    path = ROOT / "tests" / "sympy_reference.py"
    if not path.exists():
        pytest.skip("tests/sympy_reference.py is not there")
    try:
        spec = importlib.util.spec_from_file_location("_bpcalc_sympy_reference", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as error:          # still being written: do not fail because of it
        pytest.skip(f"tests/sympy_reference.py does not import: {error!r}")
    if not callable(getattr(module, "solve", None)):
        pytest.skip("tests/sympy_reference.py has no solve(problem)")
    return module


def _assert_matches_oracle(solution, reference: dict, single: bool):
    close = dict(rel=1e-9, abs=1e-12)
    assert solution.loss == pytest.approx(reference["loss"], **close)
    assert set(solution.gradients()) == set(reference["gradients"])
    for name, value in solution.gradients().items():
        assert value == pytest.approx(reference["gradients"][name], **close), name
    if solution.problem.learning_rate is not None:
        for name, value in solution.updated().items():
            assert value == pytest.approx(reference["updated"][name], **close), name
    for number, (layer, expected) in enumerate(zip(solution.layers, reference["layers"]), start=1):
        for key in ("z", "a", "delta"):
            got = getattr(layer, key)[0] if single else getattr(layer, key)
            np.testing.assert_allclose(got, np.array(expected[key], dtype=float), rtol=1e-9, atol=1e-12,
                                       err_msg=f"layers[{number}].{key}")
        np.testing.assert_allclose(layer.dC_dw, np.array(expected["dC_dw"], dtype=float), rtol=1e-9, atol=1e-12)
        if layer.dC_db is not None:
            np.testing.assert_allclose(layer.dC_db, np.array(expected["dC_db"], dtype=float), rtol=1e-9,
                                       atol=1e-12)


@pytest.mark.parametrize("path", PROBLEM_FILES, ids=os.path.basename)
def test_agrees_with_sympy_oracle_on_problem_files(path):
    oracle = _oracle()
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    solution = solve(load(path))
    _assert_matches_oracle(solution, oracle.solve(document), solution.problem.single)


def _random_small_network(seed: int) -> dict:
    """Small enough for sympy to differentiate in well under a second."""
    rng = np.random.default_rng(seed)
    r = lambda *shape: np.round(rng.uniform(-1.5, 1.5, size=shape), 3).tolist()  # noqa: E731
    loss = LOSS_NAMES[seed % len(LOSS_NAMES)]
    output = ["sigmoid", "softmax"][seed % 2] if needs_probabilities(loss) else \
        ELEMENTWISE[seed % len(ELEMENTWISE)]
    hidden = ELEMENTWISE[(seed * 3 + 1) % len(ELEMENTWISE)]
    n_in, n_hidden, n_out = 2, 2, 2 if output == "softmax" else 1 + seed % 2
    layers = [{"activation": hidden, "weights": r(n_hidden, n_in), "bias": r(n_hidden)},
              {"activation": output, "weights": r(n_out, n_hidden), "bias": r(n_out)}]
    if hidden == "leaky_relu":
        layers[0]["slope"] = 0.2
    targets = (lambda: np.round(rng.uniform(0, 1, n_out), 2).tolist()) if needs_probabilities(loss) \
        else (lambda: r(n_out))
    examples = [{"input": r(n_in), "target": targets()} for _ in range(1 + seed % 2)]
    return {"examples": examples, "loss": loss, "reduction": ["mean", "sum"][seed % 2],
            "learning_rate": 0.25, "layers": layers}


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_sympy_oracle_on_random_networks(seed):
    oracle = _oracle()
    doc = _random_small_network(seed)
    solution = solve(Problem.from_dict(doc))
    _assert_matches_oracle(solution, oracle.solve(doc), single=False)


def _registry_network(hidden: str, output: str, loss: str, seed: int) -> dict:
    """One example through a 2-2-2 network with the given hidden and output activations
    (small: sympy differentiates every parameter of it separately)."""
    rng = np.random.default_rng(seed)
    r = lambda *shape: np.round(rng.uniform(-1.5, 1.5, size=shape), 3).tolist()  # noqa: E731
    target = np.round(rng.dirichlet(np.ones(2)), 2).tolist() if needs_probabilities(loss) else r(2)
    layers = [{"activation": hidden, "weights": r(2, 2), "bias": r(2)},
              {"activation": output, "weights": r(2, 2), "bias": r(2)}]
    if hidden == "leaky_relu":
        layers[0]["slope"] = 0.2
    return {"input": r(2), "target": target, "loss": loss, "learning_rate": 0.25, "layers": layers}


def _registry_cases() -> list:
    """Each activation once hidden and once at the output (in a chain: the hidden one of
    each network is the output one of the previous), each loss once: the sympy oracle sees
    every registry entry, whatever the random networks happen to draw."""
    chain = [n for n in ELEMENTWISE if n != "linear"]
    cases = [pytest.param(hidden, output, "squared_error", id=f"{hidden}-{output}")
             for hidden, output in zip(chain, chain[1:] + chain[:1])]
    for name in OUTPUT_ONLY:
        cases.append(pytest.param("tanh", name, "half_squared_error", id=f"tanh-{name}"))
    for loss in LOSS_NAMES:
        output = "sigmoid" if needs_probabilities(loss) and loss != "cross_entropy" else \
            "softmax" if loss == "cross_entropy" else "identity"
        cases.append(pytest.param("softsign", output, loss, id=f"loss-{loss}"))
    return cases


@pytest.mark.parametrize(("hidden", "output", "loss"), _registry_cases())
def test_agrees_with_sympy_oracle_for_every_registry_entry(hidden, output, loss):
    oracle = _oracle()
    doc = _registry_network(hidden, output, loss, seed=sum(map(ord, hidden + output + loss)))
    solution = solve(Problem.from_dict(doc))
    _assert_matches_oracle(solution, oracle.solve(doc), single=True)


@pytest.mark.parametrize(("hidden", "loss"), [*((name, "half_squared_error") for name in sorted(KINKED)),
                                              ("relu", "mean_absolute_error")])
def test_agrees_with_sympy_oracle_exactly_at_the_kinks(hidden, loss):
    """z exactly at every kink (0, ±1) and outputs exactly on their targets: bpcalc's
    conventions are the oracle's, which are PyTorch's (ReLU′(0) = 0, hardtanh′(±1) = 0,
    ELU′(0) = α, SELU′(0) = λα, the L1 gradient at a = t is 0)."""
    oracle = _oracle()
    doc = {"input": [1.0, -1.0], "target": [0.0, 0.25], "loss": loss, "learning_rate": 0.5,
           "layers": [{"activation": hidden, "weights": [[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]]},
                      {"activation": "identity", "weights": [[0.0, 0.5, 0.0], [0.25, 0.0, 0.0]],
                       "bias": [-0.5, 0.25]}]}
    solution = solve(Problem.from_dict(doc))
    assert solution.layers[0].z[0].tolist() == [0.0, 1.0, -1.0]
    if hidden in ("relu", "hardtanh", "leaky_relu"):
        assert solution.layers[1].a[0].tolist() == [0.0, 0.25]      # a = t: on the L1 kink
    _assert_matches_oracle(solution, oracle.solve(doc), single=True)
