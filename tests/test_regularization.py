"""regularization: {l2: λ}: Nielsen's C = C0 + λ/(2n)·Σw² over the weights (not biases).

Checked against a hand-computed neuron and against finite differences of the penalised
loss written out here (C0 from an unregularised solve plus λ/(2n)·Σw², computed in the test)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from clitools import ROOT, bpcalc

import bpcalc as api

NEURON = {"input": 1.0, "target": 1.0, "learning_rate": 0.5, "regularization": {"l2": 0.1},
          "layers": [{"activation": "sigmoid", "weights": 0.5, "bias": 0.0}]}


def test_one_neuron_by_hand():
    solution = api.solve(api.Problem.from_dict(NEURON))
    a = 1 / (1 + math.exp(-0.5))                     # z = 0.5·1 + 0
    c0 = 0.5 * (a - 1) ** 2
    penalty = 0.1 / (2 * 1) * 0.5 ** 2               # λ/(2n)·w², n = 1
    dc0_dw = (a - 1) * a * (1 - a) * 1.0             # (a − t)·σ′(z)·x
    assert solution.penalty == pytest.approx(penalty, rel=1e-14)
    assert solution.loss == pytest.approx(c0 + penalty, rel=1e-14)
    gradients = solution.gradients()
    assert gradients["w1_11"] == pytest.approx(dc0_dw + 0.1 / 1 * 0.5, rel=1e-12)   # + (λ/n)·w
    assert gradients["b1_1"] == pytest.approx(dc0_dw, rel=1e-12)                   # biases: no penalty
    assert solution.updated()["w1_11"] == pytest.approx(0.5 - 0.5 * (dc0_dw + 0.05), rel=1e-12)


def _penalised(problem, l2):
    """C0 (an unregularised solve) + λ/(2n)·Σw², independently of the solver's penalty."""
    plain = dataclasses.replace(problem, l2=0.0)
    weights = sum(float((layer.weights ** 2).sum()) for layer in problem.layers)
    return api.solve(plain).loss + l2 / (2 * len(problem.inputs)) * weights


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_finite_differences_of_the_penalised_loss(reduction):
    problem = api.load(ROOT / "problems" / "mini_batch_mean.yaml")
    problem = dataclasses.replace(problem, l2=0.7, reduction=reduction)
    solution = api.solve(problem)
    assert solution.loss == pytest.approx(_penalised(problem, 0.7), rel=1e-13)
    for parameter in solution.parameters():
        h = 1e-6
        kind = "weights" if parameter.kind == "weights" else "bias"

        def at(value, parameter=parameter, kind=kind):
            layer = problem.layers[parameter.layer - 1]
            array = getattr(layer, kind).copy()
            array[parameter.index] = value
            layers = list(problem.layers)
            layers[parameter.layer - 1] = dataclasses.replace(layer, **{kind: array})
            return _penalised(dataclasses.replace(problem, layers=tuple(layers)), 0.7)

        numeric = (at(parameter.value + h) - at(parameter.value - h)) / (2 * h)
        assert parameter.gradient == pytest.approx(numeric, rel=1e-6, abs=1e-9), parameter.name


def test_gradcheck_passes_on_a_regularised_problem(tmp_path):
    path = tmp_path / "reg.yaml"
    text = (ROOT / "problems" / "mini_batch_mean.yaml").read_text(encoding="utf-8")
    path.write_text(text.split("\nexpected:")[0] + "\nregularization: {l2: 0.3}\n", encoding="utf-8")
    result = bpcalc("gradcheck", str(path))
    assert result.exit_code == 0, result.stdout + result.stderr


def test_json_carries_the_penalty(tmp_path):
    path = tmp_path / "neuron.yaml"
    path.write_text(json.dumps(NEURON), encoding="utf-8")
    document = json.loads(bpcalc("solve", str(path), "--format", "json").stdout)
    assert document["penalty"] == pytest.approx(0.0125) and document["l2"] == 0.1
    assert document["loss"] == pytest.approx(0.5 * (1 / (1 + math.exp(-0.5)) - 1) ** 2 + 0.0125)


def test_without_regularization_the_json_is_unchanged():
    document = json.loads(bpcalc("solve", str(ROOT / "problems" / "simple_network.yaml"), "-f", "json").stdout)
    assert "penalty" not in document


def test_zero_lambda_is_no_penalty():
    plain = api.solve(api.Problem.from_dict({**NEURON, "regularization": None}))
    zero = api.solve(api.Problem.from_dict({**NEURON, "regularization": {"l2": 0}}))
    assert plain.loss == zero.loss and np.array_equal(plain.layers[0].dC_dw, zero.layers[0].dC_dw)


def test_check_grades_the_regularised_gradient(tmp_path):
    path = tmp_path / "neuron.yaml"
    path.write_text(json.dumps(NEURON), encoding="utf-8")
    a = 1 / (1 + math.exp(-0.5))
    right = (a - 1) * a * (1 - a) + 0.05
    assert bpcalc("check", str(path), "-a", f"gradients.w1_11={right:.8f}").exit_code == 0
    assert bpcalc("check", str(path), "-a", f"gradients.w1_11={right - 0.05:.8f}").exit_code == 1


@pytest.mark.parametrize("value, message", [
    ("{l3: 1}", "regularization.l3: unknown key 'l3'; expected one of: l2"),
    ("{l2: -1}", "regularization.l2: expected a number ≥ 0 (λ), got -1"),
    ("{l2: abc}", "regularization.l2: expected a number"),
    ("0.1", "regularization: expected a regularization ({l2: 0.1})"),
])
def test_bad_regularization(tmp_path, value, message):
    path = tmp_path / "bad.yaml"
    path.write_text(f"regularization: {value}\ninput: 1\ntarget: 1\nlayers:\n  - activation: sigmoid\n"
                    "    weights: 0.5\n", encoding="utf-8")
    result = bpcalc("solve", str(path))
    assert result.exit_code == 2 and f"{path}:1:" in result.stderr and message in result.stderr


def test_explain_shows_the_penalty_and_its_gradient():
    """C₀'s derivation, then C = C₀ + λ/(2n)·Σw² and ∂C/∂w = ∂C₀/∂w + (λ/n)·w with numbers,
    and the update with ∂C/∂w; every step redoes to its value."""
    from redo import check_derivation

    from bpcalc.derivation import derive

    problem = api.load(ROOT / "problems" / "l2_regularization.yaml")
    solution = api.solve(problem)
    derivation = derive(problem, solution)
    check_derivation(derivation, solution)
    lines = [step.equation_unicode() for step in derivation.steps]
    assert "∂C₀/∂w2 = ∂C₀/∂z2·∂z2/∂w2 = δ₂·a1" in "\n".join(lines) or any(
        line.startswith("∂C₀/∂w2") for line in lines)
    assert "C = C₀ + λ/2·(w1² + w2²) = 0.2884 + 0.1/2·(0.01² + (−5)²) ≈ 1.538" in lines
    assert "∂C/∂w2 = ∂C₀/∂w2 + λ·w2 = (−0.004162) + 0.1·(−5) ≈ −0.5042" in lines
    assert "w2 ← w2 − η·∂C/∂w2 = (−5) − 0.1·(−0.5042) ≈ −4.95" in lines
    assert not any(line.startswith("∂C/∂b = ∂C₀/∂b") for line in lines)   # biases: no penalty
    for name in ("w1", "w2", "b"):
        check_derivation(derive(problem, solution, param=name), solution)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_explain_of_regularised_batches_redoes(reduction):
    from redo import check_derivation

    from bpcalc.derivation import derive

    base = api.load(ROOT / "problems" / "mini_batch_mean.yaml")
    problem = dataclasses.replace(base, l2=0.25, reduction=reduction)
    solution = api.solve(problem)
    for scalars in (True, False):
        derivation = derive(problem, solution, scalars=scalars)
        check_derivation(derivation, solution)
        assert any(step.key == "loss" and step.rule == "L2" for step in derivation.steps)
