"""`bpcalc gradcheck`: centred finite differences against back-propagation (or a student's values).

Expected values here are published (Mazur's post), SymPy's (the shipped answer keys of graph
problems) or derived by hand in the comments; never bpcalc's own output.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from clitools import PROBLEMS, ROOT, bpcalc

import bpcalc as api
from bpcalc.gradcheck import EPSILON, gradient_check, judge

MAZUR = str(ROOT / "problems" / "mazur_2_2_2.yaml")
BATCH_GRAPH = str(ROOT / "problems" / "sigmoid_neuron_batch.yaml")


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_every_shipped_problem_passes(path):
    result = bpcalc("gradcheck", str(path), "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] and document["checks"]
    assert all(check["verdict"] == "good" for check in document["checks"])


def test_mazur_every_parameter_fixed_ones_marked():
    document = json.loads(bpcalc("gradcheck", MAZUR, "--format", "json").stdout)
    checks = {check["name"]: check for check in document["checks"]}
    assert list(checks) == ["w1", "w2", "w3", "w4", "b1_1", "b1_2",
                            "w5", "w6", "w7", "w8", "b2_1", "b2_2"]
    assert [name for name, check in checks.items() if check["fixed"]] == ["b1_1", "b1_2", "b2_1", "b2_2"]
    # Mazur's published ∂E_total/∂w5 and ∂E_total/∂w1
    assert checks["w5"]["numeric"] == pytest.approx(0.082167041, rel=1e-8)
    assert checks["w1"]["numeric"] == pytest.approx(0.000438568, rel=1e-6)
    # the step: ε^(1/3)·max(1, |w|), up to the rounding of w ± h
    assert checks["w5"]["step"] == pytest.approx(EPSILON ** (1 / 3), rel=1e-9)
    assert document["step_rule"].startswith("h = ε^(1/3)·max(1, |w|)")


def test_text_states_step_and_verdicts():
    result = bpcalc("gradcheck", MAZUR)
    assert result.exit_code == 0
    assert "h = ε^(1/3)·max(1, |w|)" in result.stdout
    assert "b1_1 (fixed)" in result.stdout and "12 checked: all agree." in result.stdout


def test_large_weight_gets_a_larger_step():
    problem = api.Problem.from_dict({"input": [1.0], "target": [0.0], "layers": [
        {"activation": "linear", "weights": [[250.0]], "bias": 0.0}]})
    checks = {c.name: c for c in gradient_check(problem).checks}
    assert checks["w1_11"].step == pytest.approx(250 * EPSILON ** (1 / 3), rel=1e-6)
    # C = ½(250·1 − 0)², ∂C/∂w = 250
    assert checks["w1_11"].numeric == pytest.approx(250.0, rel=1e-9)
    assert checks["w1_11"].verdict == "good"


def test_wrong_backprop_is_caught(monkeypatch):
    """Back-propagation made 1 % wrong for the weights (the loss untouched): every weight fails."""
    from bpcalc import solver

    real = solver._layer_solution

    def off_by_one_percent(*args):
        layer = real(*args)
        from dataclasses import replace

        return replace(layer, dC_dw=layer.dC_dw * 1.01)

    monkeypatch.setattr(solver, "_layer_solution", off_by_one_percent)
    result = gradient_check(api.load(MAZUR))
    assert not result.ok
    assert {c.name for c in result.checks if c.verdict == "wrong"} == {f"w{i}" for i in range(1, 9)}
    assert {c.name for c in result.checks if c.verdict == "good"} == {"b1_1", "b1_2", "b2_1", "b2_2"}


def test_wrong_compare_file_fails(tmp_path):
    answers = tmp_path / "mine.yaml"
    answers.write_text("w5: 0.082167041\ngradients.w1: 0.000438568\nw6: 0.09\n", encoding="utf-8")
    result = bpcalc("gradcheck", MAZUR, "--compare", str(answers))
    assert result.exit_code == 1
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip()[:2] in ("w5", "w1", "w6")}
    assert rows["w6"][-1] == "wrong"
    assert rows["w5"][-1] == "good"              # Mazur's 9 digits: relative error < 1e-7
    assert rows["w1"][-1] == "doubtful"          # 6 digits: about 1e-6
    assert "yours" in result.stdout and "w2" not in result.stdout   # only the student's names


def test_right_compare_file_passes(tmp_path):
    answers = tmp_path / "mine.yaml"
    answers.write_text("w5: 0.082167041\n", encoding="utf-8")
    document = json.loads(bpcalc("gradcheck", MAZUR, "--compare", str(answers), "-f", "json").stdout)
    assert document["compared"] == "student" and document["ok"]
    assert [c["name"] for c in document["checks"]] == ["w5"]


def test_compare_per_example_graph_inputs(tmp_path):
    # ∂C_i/∂x0_i = ∂C_i/∂dot_i · w0; the shipped SymPy key gives ∂C/∂dot per example, w0 = 2
    dot_grads = [-0.0528770927843, 4.44944522338e-05, -0.146280253527]
    answers = tmp_path / "mine.yaml"
    answers.write_text(f"x0: {[2 * g for g in dot_grads]}\n", encoding="utf-8")
    result = bpcalc("gradcheck", BATCH_GRAPH, "--compare", str(answers), "-f", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    checks = json.loads(result.stdout)["checks"]
    assert [(c["name"], c["example"]) for c in checks] == [("x0", 0), ("x0", 1), ("x0", 2)]
    answers.write_text("x0: 1.0\n", encoding="utf-8")
    result = bpcalc("gradcheck", BATCH_GRAPH, "--compare", str(answers))
    assert result.exit_code == 2 and "expected a list of 3 numbers" in result.stderr


def test_graph_leaves_inputs_and_parameters():
    result = gradient_check(api.load(ROOT / "problems" / "cs231n_add_multiply.yaml"))
    # f = (x + y)·z at x = −2, y = 5, z = −4: ∂f/∂x = ∂f/∂y = z = −4, ∂f/∂z = x + y = 3
    assert {c.name: round(c.numeric, 8) for c in result.checks} == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_graph_kink_is_said_not_wrong():
    problem = api.Problem.from_dict({"inputs": {"x": 0.0, "y": 1e-7}, "nodes": {"f": "relu(x) + relu(y)"}})
    result = gradient_check(problem)
    verdicts = {c.name: c.verdict for c in result.checks}
    # x at the kink; y = 1e-7 is within h ≈ 6e-6 of it: (C(y+h) − C(y−h))/2h ≈ ½, not 1
    assert verdicts == {"x": "at a kink", "y": "at a kink"}
    assert result.ok


def test_layered_relu_kink(tmp_path):
    path = tmp_path / "kink.yaml"
    # z = w·1 + 0 = 0 for w = 0: relu's kink sits exactly at the point
    path.write_text("input: [1.0]\ntarget: [1.0]\nlayers:\n  - activation: relu\n    weights: [[0.0]]\n"
                    "    bias: 0.0\n  - activation: linear\n    weights: [[1.0]]\n    bias: 0.0\n",
                    encoding="utf-8")
    result = bpcalc("gradcheck", str(path))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "at a kink" in result.stdout and "the one-sided slopes disagree" in result.stdout


def test_smooth_curvature_is_not_a_kink():
    # f = x⁴ at x = 1e-3, h = 1e-5: the one-sided slopes differ by h·f″ = 1.2e-10, 3 % of
    # f′ = 4e-9, yet f is smooth: halving h halves that difference, so no kink is claimed.
    # (f(x+h) − f(x−h))/2h = 4x³ + 4xh² = 4e-9 + 4e-13: relative error 1e-4, doubtful.
    def f(x):
        return x ** 4
    x, h = 1e-3, 1e-5
    numeric, _error, verdict = judge(4e-9, f(x + h), f(x), f(x - h), h, lambda: (f(x + h / 2), f(x - h / 2)))
    assert numeric == pytest.approx(4e-9 + 4e-13, rel=1e-6)
    assert verdict == "doubtful"
    # the same slopes around a kink of |x|-like shape do not halve
    def g(t):
        return abs(t - x)
    _numeric, _error, verdict = judge(1.0, g(x + h), g(x), g(x - h), h, lambda: (g(x + h / 2), g(x - h / 2)))
    assert verdict == "at a kink"


def test_zero_gradient_against_rounding_noise_is_good():
    # C = 1 flat in w: the differences give rounding noise only
    numeric, error, verdict = judge(0.0, 1.0 + 2.2e-16, 1.0, 1.0, 6e-6)
    assert abs(numeric) < 1e-10 and verdict == "good"


def test_relative_error_formula():
    numeric, error, verdict = judge(1.0, 1.0 + 2e-6 * 1.001, 1.0, 1.0 - 2e-6 * 0.999, 1e-6)
    # numeric = (2e-6·1.001 + 2e-6·0.999)/2e-6 = 2; |1 − 2| / 2
    assert numeric == pytest.approx(2.0) and error == pytest.approx(0.5) and verdict in ("wrong", "at a kink")


def test_json_shape():
    document = json.loads(bpcalc("gradcheck", BATCH_GRAPH, "--format", "json").stdout)
    assert set(document) >= {"objective", "loss", "compared", "step_rule", "thresholds", "ok", "counts", "checks"}
    assert document["thresholds"] == {"good": 1e-7, "doubtful": 1e-4}
    assert document["loss"] == pytest.approx(0.076638316897, rel=1e-10)    # SymPy's key: total
    assert document["counts"]["good"] == len(document["checks"]) == 3 * 3 + 3   # x0, x1, t per example; w0..w2
    assert all(math.isfinite(c["numeric"]) for c in document["checks"])


@pytest.mark.parametrize("content, message", [
    ("w55: 1.0\n", "w55: unknown parameter (did you mean 'w5'?)"),
    ("w5: abc\n", "w5: expected a number"),
    ("w5: [1, 2]\n", "w5: expected a number"),
    ("- 1\n", "must be a mapping"),
    ("", "the answers file is empty"),
])
def test_compare_errors_exit_2(tmp_path, content, message):
    answers = tmp_path / "mine.yaml"
    answers.write_text(content, encoding="utf-8")
    result = bpcalc("gradcheck", MAZUR, "--compare", str(answers))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("bpcalc: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unknown_name_points_at_its_line(tmp_path):
    answers = tmp_path / "mine.yaml"
    answers.write_text("w5: 0.08\nw55: 1.0\n", encoding="utf-8")
    assert f"{answers}:2:1: w55: unknown parameter" in bpcalc("gradcheck", MAZUR, "--compare", str(answers)).stderr


def test_bad_problem_file_exit_2(tmp_path):
    assert bpcalc("gradcheck", str(tmp_path / "missing.yaml")).exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1\n", encoding="utf-8")
    result = bpcalc("gradcheck", str(bad))
    assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_help_has_examples():
    result = bpcalc("gradcheck", "--help")
    assert result.exit_code == 0 and "bpcalc gradcheck problems/mazur_2_2_2.yaml" in result.stdout


def test_perturbation_does_not_touch_the_problem():
    problem = api.load(MAZUR)
    before = [layer.weights.copy() for layer in problem.layers]
    gradient_check(problem)
    assert all(np.array_equal(a, layer.weights) for a, layer in zip(before, problem.layers))
