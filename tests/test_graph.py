"""Computation graphs: values and gradients against hand-derived numbers, published
examples and centred finite differences on random graphs; loading errors; diagnosis."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from graph_oracle import reverse_mode
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc.cli import main
from bpcalc.errors import BpcalcError
from bpcalc.grading import Grader
from bpcalc.graph import GraphProblem, solve_graph
from bpcalc.graph_mistakes import candidates
from bpcalc.problem import Problem

ADD_MULTIPLY = {"inputs": {"x": -2, "y": 5, "z": -4}, "nodes": {"q": "x + y", "f": "q*z"}}

MICROGRAD = {"inputs": {"a": -4, "b": 2}, "nodes": {
    "c": "a + b", "d": "a*b + b^3", "c2": "c + c + 1", "c3": "c2 + 1 + c2 + (-a)",
    "d2": "d + d*2 + relu(b + a)", "d3": "d2 + 3*d2 + relu(b - a)", "e": "c3 - d3",
    "f": "e^2", "g": "f/2 + 10/f"}}

CS231N = {"inputs": {"x": 3, "y": -4}, "nodes": {
    "sigy": "sigma(y)", "num": "x + sigy", "sigx": "sigma(x)", "xpy": "x + y",
    "den": "sigx + xpy^2", "f": "num / den"}}


def solved(document: dict) -> object:
    problem = Problem.from_dict(document)
    assert isinstance(problem, GraphProblem)
    return solve_graph(problem)


def sigma(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def test_add_multiply_gives_the_cs231n_gradients():
    solution = solved(ADD_MULTIPLY)
    assert solution.value == -12
    assert solution.gradients() == {"x": -4, "y": -4, "z": 3}
    assert solution.grads["q"][0] == -4


def test_micrograd_readme_expression():
    solution = solved(MICROGRAD)
    assert solution.value == pytest.approx(24.7041, abs=5e-5)
    assert solution.gradients()["a"] == pytest.approx(138.8338, abs=5e-5)
    assert solution.gradients()["b"] == pytest.approx(645.5773, abs=5e-5)


def test_fan_out_adds_every_use_by_hand():
    """f = (x + σ(y)) / (σ(x) + (x + y)²): ∂f/∂x written out by hand, three uses of x."""
    solution = solved(CS231N)
    x, y = 3.0, -4.0
    num, den = x + sigma(y), sigma(x) + (x + y) ** 2
    dnum, dden = 1 / den, -num / den ** 2
    expected = dnum * 1 + dden * sigma(x) * (1 - sigma(x)) + dden * 2 * (x + y)
    assert solution.gradients()["x"] == pytest.approx(expected, rel=1e-14)
    assert solution.users["x"] == ("num", "sigx", "xpy")
    parts = [solution.contribution(user, "x")[0] for user in solution.users["x"]]
    assert sum(parts) == pytest.approx(expected, rel=1e-14)
    assert solution.local[("den", "xpy")][0] == pytest.approx(2 * (x + y))


def test_max_routes_the_gradient_to_the_larger_input():
    solution = solved({"inputs": {"x": 2, "y": 5}, "nodes": {"m": "max(x, y)", "f": "3*m"}})
    assert solution.gradients() == {"x": 0, "y": 3}
    solution = solved({"inputs": {"x": 2, "y": 5, "z": -1}, "nodes": {"f": "min(x, y, z)*2"}})
    assert solution.gradients() == {"x": 0, "y": 0, "z": 2}


def test_a_leaf_named_e_shadows_euler():
    solution = solved({"inputs": {"a": 2, "b": 1}, "nodes": {"c": "a + b", "d": "b + 1", "e": "c*d"}})
    assert solution.value == 6 and solution.gradients() == {"a": 2, "b": 5}
    solution = solved({"inputs": {"x": 1}, "nodes": {"f": "e^x*pi"}})
    assert solution.value == pytest.approx(math.e * math.pi)


def test_examples_are_vectorised_and_reduced():
    examples = [{"inputs": {"x": x}} for x in (-1.0, 0.5, 2.0)]
    document = {"parameters": {"w": 0.7, "b": -0.2}, "examples": examples,
                "nodes": {"s": "w*x + b", "f": "sigma(s)"}, "learning_rate": 0.5}
    for reduction in ("mean", "sum"):
        solution = solved({**document, "reduction": reduction})
        singles = [solved({"parameters": {"w": 0.7, "b": -0.2}, "inputs": {"x": ex["inputs"]["x"]},
                           "nodes": document["nodes"]}) for ex in examples]
        scale = 1 / 3 if reduction == "mean" else 1
        assert solution.gradients()["w"] == pytest.approx(scale * sum(s.gradients()["w"] for s in singles))
        assert solution.gradients()["x"] == pytest.approx([s.gradients()["x"] for s in singles])
        assert solution.updated()["b"] == pytest.approx(-0.2 - 0.5 * solution.gradients()["b"])
        assert solution.total == pytest.approx(scale * sum(s.value for s in singles))


# Random graphs: every function, fan-out, against centred finite differences.
UNARY = ["sigma({})", "tanh({})", "exp({}/4)", "ln(1 + ({})^2)", "sqrt(1 + ({})^2)", "softplus({})",
         "({})^2", "({})^3", "abs({}) + {}", "relu({}) + 0.1*{}", "sin({})", "arctan({})", "-({})"]
BINARY = ["{} + {}", "{} - {}", "{}*{}", "{}/(1 + ({})^2)", "max({}, {})", "min({}, {})",
          "{}*0.5 + sigma({})"]


@st.composite
def random_graphs(draw):
    leaves = {f"x{i}": draw(st.floats(-2, 2)) for i in range(draw(st.integers(1, 3)))}
    names = list(leaves)
    nodes = {}
    for i in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            template = draw(st.sampled_from(UNARY))
            arg = draw(st.sampled_from(names))
            text = template.format(*([arg] * template.count("{}")))
        else:
            template = draw(st.sampled_from(BINARY))
            a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
            text = template.format(a, b, b)[: None] if template.count("{}") == 3 else template.format(a, b)
        nodes[f"n{i}"] = text
        names.append(f"n{i}")
    return {"inputs": leaves, "nodes": nodes}


def _value(document: dict) -> float:
    return solved(document).value


@settings(deadline=None)
@given(random_graphs())
def test_random_graphs_agree_with_finite_differences(document):
    try:
        solution = solved(document)
    except BpcalcError:
        return                                  # a value outside a function's domain
    if not np.isfinite(solution.value) or abs(solution.value) > 1e6:
        return
    if reverse_mode(document)["kink"] < 1e-3:      # a relu, abs, max or min near its kink
        return

    def at(leaf: str, value: float) -> float:
        return _value({**document, "inputs": {**document["inputs"], leaf: value}})

    for leaf, value in document["inputs"].items():
        h = 1e-6 * max(1.0, abs(value))
        try:
            up, down = at(leaf, value + h), at(leaf, value - h)
        except BpcalcError:
            continue
        numeric = (up - down) / (2 * h)
        assert solution.gradients()[leaf] == pytest.approx(numeric, rel=1e-5, abs=1e-6), (leaf, document)


# Loading errors: one located line each.
@pytest.mark.parametrize("document, words", [
    ({"inputs": {"x": 1}, "nodes": {"f": "x + yy"}}, ["nodes.f", "unknown name 'yy'", "x"]),
    ({"inputs": {"x": 1, "y": 2}, "nodes": {"f": "x + yy"}}, ["did you mean 'y'"]),
    ({"inputs": {"x": 1}, "nodes": {"f": "g + x", "g": "x*2"}}, ["nodes.f", "defined later"]),
    ({"inputs": {"x": 1}, "nodes": {"f": "g + x", "g": "f*2"}}, ["a cycle"]),
    ({"inputs": {"x": 1}, "nodes": {"f": "f + x"}}, ["uses itself"]),
    ({"inputs": {"x": -1}, "nodes": {"f": "ln(x)"}}, ["nodes.f", "ln of -1"]),
    ({"inputs": {"x": 0}, "nodes": {"q": "x*2", "f": "1/q"}}, ["nodes.f", "division by zero"]),
    ({"inputs": {"x": -1}, "nodes": {"f": "x^0.5"}}, ["negative base"]),
    ({"inputs": {"x": 0}, "nodes": {"f": "sqrt(x)"}}, ["∂f/∂x is not finite"]),
    ({"inputs": {"x": 1}, "nodes": {"f": "x +* 2"}}, ["does not parse", "character 4"]),
    ({"inputs": {"x": 1}, "nodes": {"f": "x"}, "output": "g"}, ["output", "name of a node"]),
    ({"inputs": {"x": 1}, "nodes": {"f": "x"}, "output": "x"}, ["is a leaf"]),
    ({"inputs": {"x": 1}, "parameters": {"x": 2}, "nodes": {"f": "x"}}, ["parameters.x", "twice"]),
    ({"inputs": {"x": 1}, "nodes": {"x": "2"}}, ["nodes.x", "twice"]),
    ({"inputs": {"x": 1, "X": 2}, "nodes": {"f": "x"}}, ["differ only in case"]),
    ({"inputs": {"sigma": 1}, "nodes": {"f": "sigma"}}, ["is a function"]),
    ({"inputs": {"x": 1}, "nodes": {"f": "fact(x)"}}, ["no derivative"]),
    ({"inputs": {"x": 1}, "nodes": {"f": "x*i"}}, ["imaginary"]),
    ({"inputs": {"x": 1}, "nodes": {"f": "x"}, "layers": []}, ["unknown key 'layers'"]),
    ({"inputs": {"x": 1}, "nodes": {"f": "x"}, "reduction": "mean"}, ["several examples"]),
    ({"examples": [{"inputs": {"x": 1}}, {"inputs": {"y": 1}}], "nodes": {"f": "y"}}, ["examples[1]"]),
    ({"examples": [{"inputs": {"x": 1}}, {"inputs": {"x": 0}}], "nodes": {"f": "1/x"}}, ["example 2"]),
    ({"inputs": {"x": 1}, "nodes": {}}, ["nodes", "expected a mapping"]),
    ({"inputs": {"x": "one"}, "nodes": {"f": "x"}}, ["inputs.x", "expected a number"]),
    ({"inputs": {"x": 1}, "nodes": {"f": "x"}, "learning_rate": -1}, ["learning_rate", "positive"]),
])
def test_bad_graph_files_get_one_located_line(document, words):
    with pytest.raises(BpcalcError) as error:
        solve_graph(Problem.from_dict(document))
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_cli_solve_json_follows_the_contract(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("inputs: {x: -2, y: 5, z: -4}\nparameters: {w: 1}\nnodes:\n  q: x + y\n  f: q*z*w\n"
                    "learning_rate: 0.1\n")
    result = CliRunner().invoke(main, ["solve", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["output"] == "f" and document["value"] == -12
    assert document["nodes"]["q"] == {"formula": "x + y", "value": 3, "grad": -4}
    assert document["gradients"] == {"x": -4, "y": -4, "z": 3, "w": -12}
    assert document["updated"] == {"w": pytest.approx(1 + 0.1 * 12)}
    text = CliRunner().invoke(main, ["solve", str(path)])
    assert text.exit_code == 0 and "q*z*w" in text.output and "parameter" in text.output


def test_verify_and_check_work_on_graph_files(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("inputs: {x: 3, y: -4}\nnodes:\n  sigy: sigma(y)\n  num: x + sigy\n  sigx: sigma(x)\n"
                    "  xpy: x + y\n  den: sigx + xpy^2\n  f: num / den\n"
                    "expected: {gradients.x: 2.0595698, nodes.num.grad: 0.5121444, value: 1.5456449}\n"
                    "questions:\n  - {id: dfdx, numeric: gradients.x}\n")
    runner = CliRunner()
    assert runner.invoke(main, ["verify", str(path)]).exit_code == 0
    right = runner.invoke(main, ["check", str(path), "-a", "dfdx=2.0596"])
    assert right.exit_code == 0, right.output
    wrong = runner.invoke(main, ["check", str(path), "-a", "dfdx=0.5121", "--format", "json"])
    assert wrong.exit_code == 1
    assert "through num only" in json.loads(wrong.output)[0]["diagnosis"]


def test_diagnoses_name_the_graph_mistakes():
    solution = solved(CS231N)
    found: dict = {}
    for name, value, sentence in candidates(solution, "gradients.x"):
        found.setdefault(name, (value, sentence))          # the first: through num
    value, sentence = found["one_path_of_fan_out"]
    assert value == pytest.approx(solution.contribution("num", "x")[0])
    assert "x also reaches f through sigx, xpy" in sentence
    value, sentence = found["local_derivative_only"]
    assert value == 1 and "∂num/∂x" in sentence
    shared = solved({"parameters": {"w": 0.5}, "inputs": {"x1": 1, "x2": -1},
                     "nodes": {"h1": "tanh(w*x1)", "h2": "tanh(w*h1 + w*x2)", "f": "h2^2"}})
    names = [name for name, _v, _s in candidates(shared, "gradients.w")]
    assert "one_use_of_shared_weight" in names
    grader = Grader(shared.problem, shared)
    one_step = float(shared.contribution("h2", "w")[0])
    verdict = grader.grade("gradients.w", f"{one_step:.6g}")
    assert not verdict.correct and "shared" in verdict.diagnosis
