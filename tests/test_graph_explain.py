"""``bpcalc explain`` of computation graphs: every step redoes to its shown value, local
derivatives are the symbolic derivatives of each node's formula, fan-out and shared
weights are summed term by term, and --param writes out every path."""

from __future__ import annotations

import json
import pathlib

import pytest
from clitools import bpcalc
from hypothesis import given, settings
from redo import check_derivation
from test_graph import ADD_MULTIPLY, CS231N, MICROGRAD, random_graphs

from bpcalc.derivation import derive
from bpcalc.errors import BpcalcError
from bpcalc.problem import Problem, load
from bpcalc.solver import solve

DATA = pathlib.Path(__file__).parent / "data"


def derivations(document_or_path, digits=(4, 3, 6)):
    problem = load(document_or_path) if isinstance(document_or_path, pathlib.Path) else \
        Problem.from_dict(document_or_path)
    solution = solve(problem)
    for d in digits:
        yield derive(problem, solution, digits=d), solution
    for name in [*problem.leaves, *(node.name for node in problem.nodes)]:
        yield derive(problem, solution, param=name), solution


@pytest.mark.parametrize("source", [ADD_MULTIPLY, MICROGRAD, CS231N, DATA / "graph_rnn.yaml",
                                    DATA / "graph_batch.yaml"], ids=["add", "micrograd", "cs231n", "rnn", "batch"])
def test_every_step_redoes_to_its_value(source):
    for derivation, solution in derivations(source):
        check_derivation(derivation, solution)


@settings(deadline=None, max_examples=60)
@given(random_graphs())
def test_random_graphs_redo(document):
    try:
        problem = Problem.from_dict(document)
        solution = solve(problem)
    except BpcalcError:
        return
    check_derivation(derive(problem, solution), solution)
    check_derivation(derive(problem, solution, param=problem.leaves[0]), solution)


def lines(derivation) -> list[str]:
    return [step.equation_unicode() for step in derivation.steps]


def test_add_multiply_shows_each_gradient_as_the_chain():
    problem = Problem.from_dict(ADD_MULTIPLY)
    text = "\n".join(lines(derive(problem, solve(problem))))
    assert "∂f/∂q = z = −4" in text
    assert "∂f/∂x = ∂f/∂q·∂q/∂x = (−4)·1 = −4" in text
    assert "∂f/∂y = ∂f/∂q·∂q/∂y = (−4)·1 = −4" in text
    assert "∂f/∂z = q = 3" in text


def test_local_derivatives_are_the_symbolic_derivatives_of_the_node():
    problem = Problem.from_dict(CS231N)
    text = "\n".join(lines(derive(problem, solve(problem))))
    assert "∂f/∂num = 1/den = " in text
    assert "∂f/∂den = −num/den² = " in text
    assert "∂den/∂xpy = 2·xpy = 2·(−1) = −2" in text
    assert "∂sigx/∂x = sigx·(1 − sigx) = " in text        # σ′ through the node's own value
    fan_out = [s for s in derive(problem, solve(problem)).steps if s.key == "gradients.x"]
    assert fan_out[0].equation_unicode().startswith(
        "∂f/∂x = ∂f/∂num·∂num/∂x + ∂f/∂sigx·∂sigx/∂x + ∂f/∂xpy·∂xpy/∂x = ")
    assert "fans out to num, sigx, xpy" in str(fan_out[0].note)
    through = [s.title for s in derive(problem, solve(problem)).steps if s.title.startswith("x through")]
    assert through == ["x through num", "x through sigx", "x through xpy"]


def test_output_using_a_value_directly_is_written_as_its_formula():
    """f uses x directly and through q: the output's local ∂f/∂x is not confused with ∂f/∂x."""
    problem = Problem.from_dict({"inputs": {"x": 2}, "nodes": {"q": "x^2", "f": "q*x"}})
    derivation = derive(problem, solve(problem))
    final = [s for s in derivation.steps if s.key == "gradients.x"][0]
    assert final.equation_unicode() == "∂f/∂x = ∂f/∂q·∂q/∂x + q = 8 + 4 = 12"
    check_derivation(derivation, solve(problem))


def test_shared_weight_is_the_sum_of_its_time_steps():
    problem = load(DATA / "graph_rnn.yaml")
    solution = solve(problem)
    derivation = derive(problem, solution)
    step = [s for s in derivation.steps if s.key == "gradients.w"][0]
    assert step.equation_unicode().startswith("∂C/∂w = ∂C/∂h1·∂h1/∂w + ∂C/∂h2·∂h2/∂w + ∂C/∂h3·∂h3/∂w = ")
    assert "shared" in str(step.note) and "time step" in str(step.note)
    assert "∂h2/∂w = (1 − h2²)·h1 = " in "\n".join(lines(derivation))
    paths = derive(problem, solution, param="w")
    titles = [s.title for s in paths.steps if s.title.startswith("path")]
    assert titles == ["path w → h1 → h2 → h3 → y3 → C", "path w → h2 → h3 → y3 → C", "path w → h3 → y3 → C"]
    assert paths.steps[-1].key == "updated.w"


def test_batch_combines_the_examples():
    problem = load(DATA / "graph_batch.yaml")
    solution = solve(problem)
    derivation = derive(problem, solution)
    combined = [s for s in derivation.steps if s.key == "gradients.w0"][0]
    assert combined.equation_unicode().startswith("∂f/∂w0 = ∂f₁/∂w0 + ∂f₂/∂w0 + ∂f₃/∂w0 = ")
    assert "Backward pass, example 3" in derivation.sections


def test_cli_explain_of_a_graph():
    path = str(DATA / "graph_rnn.yaml")
    out = bpcalc("explain", path)
    assert out.exit_code == 0, out.stderr
    assert "w is shared" in out.stdout and "Step 1/" in out.stdout
    document = json.loads(bpcalc("explain", path, "--format", "json").stdout)
    assert {"nodes.h1.value", "gradients.w", "updated.w"} <= {s["key"] for s in document["steps"]}
    for fmt in ("markdown", "latex"):
        assert bpcalc("explain", path, "--format", fmt).exit_code == 0
    unknown = bpcalc("explain", path, "--param", "ww")
    assert unknown.exit_code == 2 and "did you mean 'w'" in unknown.stderr
    concepts = bpcalc("explain", path, "--concepts")
    assert concepts.exit_code == 2 and "computation graph" in concepts.stderr
