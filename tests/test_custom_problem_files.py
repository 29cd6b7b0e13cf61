"""Activations and losses a problem file defines itself (``activations: {swish: {f: …}}``,
``loss: {cost: …}``), and the parameters of built-in ones (``alpha``, ``delta``): solved,
explained and checked like built-ins, and every mistake in them one located line."""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pytest

from bpcalc.derivation import derive, prose_unicode
from bpcalc.errors import BpcalcError
from bpcalc.problem import Problem, load
from bpcalc.solver import solve

from clitools import bpcalc

SWISH = {"activations": {"swish": {"f": "z*sigma(z)"}}, "input": [0.5, -1.0], "target": [0.2],
         "learning_rate": 0.1, "loss": {"cost": "(a - t)^4/4"},
         "layers": [{"activation": "swish", "weights": [[0.3, -0.2], [0.8, 0.1]], "bias": [0.1, 0.0]},
                    {"activation": "elu", "alpha": 0.5, "weights": [[1.2, -0.7]]}]}


def _loss(doc: dict) -> float:
    return solve(Problem.from_dict(doc)).loss


def _finite_differences(doc: dict, step: float = 1e-6) -> dict[str, float]:
    """∂C/∂w by centered differences of the loss, one weight at a time."""
    out = {}
    for l, layer in enumerate(doc["layers"], start=1):
        weights = np.array(layer["weights"], dtype=float)
        for (j, k), _ in np.ndenumerate(weights):
            values = []
            for sign in (1, -1):
                changed = json.loads(json.dumps(doc))
                moved = weights.copy()
                moved[j, k] += sign * step
                changed["layers"][l - 1]["weights"] = moved.tolist()
                values.append(_loss(changed))
            out[f"w{l}_{j + 1}{k + 1}"] = (values[0] - values[1]) / (2 * step)
    return out


def _by_hand(doc: dict) -> float:
    """The loss of SWISH worked out with math, neuron by neuron."""
    sigma = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    x = doc["input"]
    layer1, layer2 = doc["layers"]
    hidden = []
    for row, bias in zip(layer1["weights"], layer1["bias"]):
        z = sum(w * v for w, v in zip(row, x)) + bias
        hidden.append(z * sigma(z))
    z = sum(w * v for w, v in zip(layer2["weights"][0], hidden))
    a = z if z > 0 else layer2["alpha"] * (math.exp(z) - 1)
    return (a - doc["target"][0]) ** 4 / 4


def test_a_custom_activation_and_loss_solve_like_built_ins():
    solution = solve(Problem.from_dict(SWISH))
    assert solution.loss == pytest.approx(_by_hand(SWISH), rel=1e-12)
    gradients = solution.gradients()
    for name, value in _finite_differences(SWISH).items():
        assert gradients[name] == pytest.approx(value, rel=1e-5, abs=1e-12), name


def test_elu_alpha_and_a_negative_z():
    doc = json.loads(json.dumps(SWISH))
    doc["layers"][1]["weights"] = [[-1.2, -0.7]]            # z < 0: the α(e^z − 1) piece
    solution = solve(Problem.from_dict(doc))
    assert solution.loss == pytest.approx(_by_hand(doc), rel=1e-12)
    for name, value in _finite_differences(doc).items():
        assert solution.gradients()[name] == pytest.approx(value, rel=1e-5, abs=1e-12), name


def test_explain_shows_the_derived_rules():
    problem = Problem.from_dict(SWISH)
    derivation = derive(problem, solve(problem))
    notes = "\n".join(prose_unicode(s.note) for s in derivation.steps if s.note)
    assert "swish(z) = z·σ(z)" in notes
    assert "swish′(z) = σ(z) + z·σ(z)·(1 − σ(z))" in notes
    assert "ELU′(z) = 1 for z > 0, α·exp(z) otherwise, with α = 0.5" in notes
    assert "C = (Σⱼ (aⱼ − tⱼ)⁴)/4" in notes
    gradient = next(s for s in derivation.steps if s.rule == "gradient")
    assert gradient.equation_unicode().startswith("∂C/∂a²₁ = (a²₁ − t)³ = ")


def test_a_loss_over_the_whole_output_vector():
    doc = {"input": [1.0], "target": [1.0, 0.0], "layers": [
        {"activation": "identity", "weights": [[0.5], [-0.25]]}],
        "loss": {"cost": "ln(exp(a_1) + exp(a_2)) - t_1*a_1 - t_2*a_2", "per_output": False}}
    solution = solve(Problem.from_dict(doc))
    a1, a2 = 0.5, -0.25
    assert solution.loss == pytest.approx(math.log(math.exp(a1) + math.exp(a2)) - a1, rel=1e-12)
    softmax = math.exp(a1) / (math.exp(a1) + math.exp(a2))
    assert solution.layers[0].delta[0].tolist() == pytest.approx([softmax - 1, 1 - softmax], rel=1e-12)
    problem = Problem.from_dict(doc)
    derivation = derive(problem, solve(problem))
    assert not [w for w in derivation.warnings if w.kind == "arithmetic"]


def test_huber_delta():
    doc = {"input": [1.0], "target": [0.0, 3.0], "loss": {"name": "huber", "delta": 0.5},
           "layers": [{"activation": "identity", "weights": [[0.3], [1.0]]}]}
    solution = solve(Problem.from_dict(doc))
    # r = 0.3 (quadratic: ½r²) and r = −2 (linear: δ(|r| − ½δ)), with δ = 0.5
    assert solution.loss == pytest.approx(0.5 * 0.3 ** 2 + 0.5 * (2 - 0.25), rel=1e-12)
    assert solution.layers[0].delta[0].tolist() == pytest.approx([0.3, -0.5], rel=1e-12)


@pytest.mark.parametrize("change, key, words", [
    ({"activations": {"swish": {"f": "x*sigma(x)"}}}, "activations.swish.f", "unknown variable 'x'"),
    ({"activations": {"swish": {"f": "z*sigma(z"}}}, "activations.swish.f", "never closed"),
    ({"activations": {"swish": {"g": "z"}}}, "activations.swish.g", "unknown key"),
    ({"activations": {"relu": {"f": "z"}}}, "activations.relu", "built-in activation"),
    ({"activations": {"swish": {"f": "sqrt(z - 1)"}}}, "activations.swish", "no real value"),
    ({"loss": {"cost": "(a - y)^2"}}, "loss.cost", "unknown variable 'y'"),
    ({"loss": {"name": "huber", "beta": 1}}, "loss.beta", "unknown key 'beta' (did you mean 'delta'?)"),
    ({"loss": {"name": "mean_squared_error", "delta": 1}}, "loss.delta", "not a parameter of mean_squared_error"),
    ({"loss": {"name": "huber", "delta": -1}}, "loss.delta", "positive"),
    ({"loss": {"name": "huber", "cost": "a"}}, "loss", "either name"),
])
def test_mistakes_are_one_located_line(tmp_path, change, key, words):
    doc = {**json.loads(json.dumps(SWISH)), **change}
    if "relu" in json.dumps(change.get("activations", {})):
        doc["layers"][0]["activation"] = "relu"
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = bpcalc("solve", str(path))
    assert result.exit_code == 2, result.stdout
    [line] = result.stderr.splitlines()
    assert key in line and words in line, line


def test_alpha_on_an_activation_without_it(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent("""\
        input: 1
        target: 1
        layers:
          - activation: relu
            weights: 1
            alpha: 0.5
        """), encoding="utf-8")
    with pytest.raises(BpcalcError, match=r"layers\[1\]\.alpha: 'alpha' only applies to elu, not relu"):
        load(path)
