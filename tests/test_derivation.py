"""Derivations (``bpcalc explain``): every step holds, and can be redone by hand as shown.

For every shipped problem and for random networks (every activation and loss, several
examples, both reductions, and extreme values: saturated outputs, dead neurons, softmax
logits of ±1000, eight layers), every step with numbers is checked:

1. its substituted tree, evaluated with :func:`bpcalc.expr.evaluate` at the numbers'
   full-precision values, gives the step's value (relative 1e-9);
2. redone with the numbers *as shown* (their texts), it rounds to the result as shown,
   to its last digit: what a student redoing the step by hand gets;
3. its result is the value shown by the one formatter, and the value agrees with the
   solver wherever the step names a solution path;
4. its substituted form is its general form with numbers put in: replacing each number
   by the symbol it stands for gives back the general form (so the two cannot disagree,
   and a wrong symbolic rule shows up as a wrong value in 1).

The reference homework's chains are checked against numbers worked by hand.
"""

from __future__ import annotations

import dataclasses
import glob
import math
import pathlib
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from networks import networks
from redo import check_derivation, check_step, nums, redone_matches  # noqa: F401

from bpcalc import activations as activation_registry
from bpcalc.activations import ACTIVATIONS
from bpcalc.derivation import (
    Step,
    concepts,
    derive,
    explain,
    latex,
    prose_unicode,
    unicode,
)
from bpcalc.derivation.printers import TEXT_LATEX
from bpcalc.errors import BpcalcError
from bpcalc.expr import Num, Sub, Sym
from bpcalc.losses import LOSSES
from bpcalc.problem import Problem, load
from bpcalc.solver import solve

ROOT = Path(__file__).resolve().parent.parent
PROBLEM_FILES = sorted(glob.glob(str(ROOT / "problems" / "*.yaml")))
IDS = [Path(p).name for p in PROBLEM_FILES]


# ================================================================ the checks

def all_derivations(problem: Problem, solution):
    if getattr(problem, "kind", None) == "graph":
        yield derive(problem, solution)
        yield derive(problem, solution, digits=3)
        for name in problem.leaves:
            yield derive(problem, solution, param=name)
        return
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
def test_to_dict_is_strict_json_with_every_form(path):
    import json

    problem = load(path)
    solution = solve(problem)
    for derivation in all_derivations(problem, solution):
        document = json.loads(json.dumps(derivation.to_dict(), allow_nan=False))
        assert len(document["steps"]) == len(derivation.steps)
        for step in document["steps"]:
            assert {"general", "substituted", "value", "equation", "lhs", "result", "key", "rule"} <= set(step)


def _every_graph_value_is_explained(problem, solution, keys: set) -> None:
    """Every node's value, the gradient of every node and leaf that reaches the output, and
    every update, each at its solution path."""
    def at(path: str, x: int) -> str:
        return path if problem.single else f"{path}[{x}]"

    for x in range(problem.examples):
        for node in problem.nodes:
            assert at(f"nodes.{node.name}.value", x) in keys
            if np.any(solution.grads[node.name] != 0):
                assert at(f"nodes.{node.name}.grad", x) in keys, node.name
        for name in problem.varying:
            if solution.users[name]:
                assert at(f"gradients.{name}", x) in keys, name
    for name in problem.leaves:
        if name not in problem.varying and solution.users[name]:
            assert f"gradients.{name}" in keys, name
    for name in solution.updated():
        if solution.users[name]:
            assert f"updated.{name}" in keys, name


@pytest.mark.parametrize("path", PROBLEM_FILES, ids=IDS)
def test_every_solution_value_is_explained(path):
    """z, a, δ of every layer and every gradient and update appear as some step's value."""
    problem = load(path)
    solution = solve(problem)
    keys = {step.key for step in derive(problem, solution, scalars=True).steps}
    if getattr(problem, "kind", None) == "graph":
        _every_graph_value_is_explained(problem, solution, keys)
        return
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


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_layers=3, max_width=4, max_examples=3), st.integers(2, 7))
def test_every_step_of_random_networks_holds(doc, digits):
    note(repr(doc))
    problem, solution = _solved(doc)
    if solution is None:
        return
    check_derivation(derive(problem, solution, digits=digits), solution)
    check_derivation(derive(problem, solution, scalars=not _auto(problem), digits=digits), solution)


def _scaled(doc: dict, factor: float) -> dict:
    """The same network with weights and biases scaled: saturated, dead, huge logits."""
    doc = dict(doc)
    doc["layers"] = [{**layer, "weights": (np.asarray(layer["weights"]) * factor).tolist(),
                      **({"bias": (np.asarray(layer["bias"]) * factor).tolist()} if "bias" in layer else {})}
                     for layer in doc["layers"]]
    return doc


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_layers=3, max_width=3, max_examples=2), st.sampled_from([8.0, 40.0, 700.0]),
       st.integers(2, 6))
def test_extreme_values_never_crash_and_still_redo(doc, factor, digits):
    note(repr(doc))
    problem, solution = _solved(_scaled(doc, factor))
    if solution is None:
        return
    check_derivation(derive(problem, solution, digits=digits), solution)
    name = next(solution.parameters()).name
    check_derivation(derive(problem, solution, param=name, digits=digits), solution)


@pytest.mark.parametrize("logits", [[1000.0, -1000.0, 0.0], [-800.0, -801.0, -805.0], [710.0, 709.0, 0.0]])
def test_softmax_with_huge_logits(logits):
    problem = Problem.from_dict({"input": [1.0], "target": [0.0, 1.0, 0.0], "loss": "cross_entropy",
                                 "layers": [{"activation": "softmax", "weights": [[v] for v in logits]}]})
    solution = solve(problem)
    derivation = derive(problem, solution)
    check_derivation(derivation, solution)
    text = "\n".join(s.equation_unicode() for s in derivation.steps)
    assert "max(" in text and "exp(z¹₁ − m¹)" in text       # the shift keeps exp finite


def test_eight_layers_and_dead_relus():
    layers = [{"activation": "relu", "weights": [[0.5, -0.5], [-1.0, 1.0]], "bias": [0.0, -0.1]}] * 7
    layers.append({"activation": "sigmoid", "weights": [[1.0, 1.0]]})
    problem = Problem.from_dict({"input": [1.0, 2.0], "target": [1.0], "layers": layers})
    solution = solve(problem)
    check_derivation(derive(problem, solution), solution)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_layers=3, max_width=4, max_examples=3))
def test_concepts_of_random_networks_hold(doc):
    problem, solution = _solved(doc)
    if solution is not None:
        check_derivation(concepts(problem, solution), solution)


def _auto(problem: Problem) -> bool:
    return max(problem.inputs.shape[1], *(layer.size for layer in problem.layers)) <= 5


def test_redo_check_catches_numbers_shown_too_short():
    """The redo check is not vacuous: 0.9997·(1 − 0.9997) does not redo to 0.0003352."""
    a = 1 / (1 + math.exp(-8))
    value = a * (1 - a)
    lying = Step("s", "t", Sym("q"), None, Num(a, text="0.9997") * Sub(Num(1), Num(a, text="0.9997")), value, "x")
    assert not redone_matches(lying)
    problem = Problem.from_dict({"input": 1, "target": 0, "layers": [{"activation": "sigmoid", "weights": 8}]})
    solution = solve(problem)
    step = next(s for s in derive(problem, solution).steps if s.rule == "derivative")
    assert redone_matches(step) and step.result_text == "0.0003352"
    assert unicode(step.substituted) == "0.99966465·(1 − 0.99966465)"   # a = 0.9996646499


def test_a_wrong_symbolic_rule_is_caught():
    """Steps are derived from the registry's trees: a wrong rule gives a wrong value,
    which the derivation refuses to show (and the checks above would fail on)."""
    problem = Problem.from_dict({"input": 0.5, "target": 0.2, "layers": [
        {"activation": "tanh", "weights": 0.8}, {"activation": "identity", "weights": 1.5}]})
    wrong_tanh = dataclasses.replace(ACTIVATIONS["tanh"], rule=Sub(Num(1), Sym("z")))
    broken = dataclasses.replace(problem, layers=(dataclasses.replace(problem.layers[0], activation=wrong_tanh),
                                                  problem.layers[1]))
    derivation = derive(broken, solve(broken))
    assert [w for w in derivation.warnings if w.kind == "arithmetic"]
    with pytest.raises(AssertionError):
        check_derivation(derivation, solve(broken))


# ================================================================ the reference chain

def _reference():
    problem = load(ROOT / "problems" / "simple_network.yaml")
    return problem, solve(problem)


def test_reference_param_w2_is_the_course_chain():
    # By hand: z1 = 0.01·3, a1 = 0.03, z2 = −5·0.03 − 1 = −1.15, y = 1/(1 + e^1.15),
    # σ′(z2) = y(1 − y), ∂C/∂w2 = (y − t)·σ′(z2)·a1. Redone with 4-digit numbers,
    # (0.2405 − 1)·0.1827·0.03 = −0.004163: σ′ needs a fifth digit, 0.18265.
    y = 1.0 / (1.0 + math.exp(1.15))
    sigma_prime = y * (1.0 - y)
    gradient = (y - 1.0) * sigma_prime * 0.03
    assert (0.2405 - 1) * 0.1827 * 0.03 == pytest.approx(-0.0041628, abs=5e-8)
    assert (0.2405 - 1) * 0.18265 * 0.03 == pytest.approx(-0.0041617, abs=5e-8)
    assert gradient == pytest.approx(-0.0041618, abs=5e-8)

    problem, solution = _reference()
    derivation = derive(problem, solution, param="w2")
    final = derivation.steps[-2]
    assert final.key == "gradients.w2"
    assert unicode(final.lhs) == "∂C/∂w2"
    assert unicode(final.chain) == "∂C/∂y·∂y/∂z2·∂z2/∂w2"
    assert unicode(final.general) == "(y − t)·σ′(z2)·a1"
    assert unicode(final.substituted) == "(0.2405 − 1)·0.18265·0.03"
    assert final.result_text == "−0.004162"
    assert final.value == pytest.approx(gradient, rel=1e-12)
    assert final.equation_unicode() == (
        "∂C/∂w2 = ∂C/∂y·∂y/∂z2·∂z2/∂w2 = (y − t)·σ′(z2)·a1 = (0.2405 − 1)·0.18265·0.03 ≈ −0.004162")
    factors = [n.value for n in nums(final.substituted)]
    assert factors[0] == pytest.approx(y, rel=1e-15) and factors[2] == pytest.approx(sigma_prime, rel=1e-15)
    assert [s.rule for s in derivation.steps] == ["forward"] * 4 + ["gradient", "derivative", "chain", "SGD"]
    assert "σ′(z) = σ(z)·(1 − σ(z))" in prose_unicode(derivation.steps[5].note)
    assert derivation.steps[-1].equation_unicode() == "w2 ← w2 − η·∂C/∂w2 = (−5) − 0.1·(−0.004162) ≈ −4.9996"


def test_reference_param_w1_and_b_share_the_chain():
    problem, solution = _reference()
    w1 = derive(problem, solution, param="w1").steps[-2]
    assert unicode(w1.chain) == "∂C/∂y·∂y/∂z2·∂z2/∂a1·∂a1/∂z1·∂z1/∂w1"
    assert unicode(w1.general) == "(y − t)·σ′(z2)·w2·ReLU′(z1)·x"
    assert w1.result_text == "2.081"
    assert redone_matches(w1)
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
    # (0.2405 − 1)·0.1827 = −0.13876 would round to −0.1388: σ′ is shown with 5 digits.
    assert "δ₂ = (y − t)·σ′(z2) = (0.2405 − 1)·0.18265 ≈ −0.1387" in lines
    assert "δ₁ = w2·δ₂·ReLU′(z1) = (−5)·(−0.13873)·1 ≈ 0.6936" in lines
    assert "∂C/∂w1 = δ₁·x = 0.6936·3 ≈ 2.081" in lines
    assert "∂C/∂b = δ₂ ≈ −0.1387" in lines
    rules = [s.rule for s in derivation.steps]
    assert rules.index("BP1") < rules.index("BP2") < rules.index("BP4") < rules.index("SGD")
    assert not derivation.warnings
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


def test_explain_solves_on_the_way():
    derivation = explain(ROOT / "problems" / "simple_network.yaml", param="w2")
    assert derivation.param == "w2" and derivation.steps[-2].key == "gradients.w2"
    assert repr(derivation).startswith("<Derivation 'Simple network: ∂C/∂w2': 8 steps")
    assert "$$" in derivation._repr_markdown_()


# ================================================================ the registries drive it

ACTIVATION_NAMES = sorted({a.name for a in ACTIVATIONS.values()})


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_every_activation_is_explained_with_its_rules(name):
    """Each registry entry, alone, gives its f and f′ rules and holding steps."""
    activation = ACTIVATIONS[name]
    output = activation.elementwise is False
    layers = [{"activation": "tanh" if output else name, "weights": [[0.6], [-0.4]], "bias": [0.1, -0.2]},
              {"activation": name if output else "identity", "weights": [[0.7, -1.1], [0.3, 0.9]]}]
    problem = Problem.from_dict({"input": [0.8], "target": [0.25, 0.75], "layers": layers,
                                 "loss": "half_squared_error", "learning_rate": 0.1})
    solution = solve(problem)
    derivation = derive(problem, solution)
    check_derivation(derivation, solution)
    notes = "\n".join(prose_unicode(s.note) for s in derivation.steps if s.note)
    if activation.elementwise and not activation.unchanged:
        assert f"{activation.unicode}′(z) = {unicode(activation.prime_formula())}" in notes
        assert f"{activation.unicode}(z) = " in notes


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_is_explained_with_its_gradient(loss):
    targets = [0.0, 1.0] if LOSSES[loss].probabilities else [0.25, 0.75]
    output = "softmax" if loss == "cross_entropy" else "sigmoid"
    problem = Problem.from_dict({"input": [0.8], "target": targets, "loss": loss, "layers": [
        {"activation": "tanh", "weights": [[0.6], [-0.4]]}, {"activation": output, "weights": [[0.7, -1.1], [0.3, 0.9]]}]})
    solution = solve(problem)
    derivation = derive(problem, solution)
    check_derivation(derivation, solution)
    notes = "\n".join(prose_unicode(s.note) for s in derivation.steps if s.note)
    assert "the loss is" in notes and f"C = {unicode(LOSSES[loss].summed())}" in notes


def test_derivation_code_names_no_activation_or_loss():
    names = {a.name for a in ACTIVATIONS.values()} | set(ACTIVATIONS) | set(LOSSES)
    names |= {a.symbol for a in ACTIVATIONS.values()} | {n.replace("_", " ") for n in names}
    names |= {n.replace("_", "-") for n in names}
    package = pathlib.Path(activation_registry.__file__).parent / "derivation"
    for path in package.glob("*.py"):
        source = path.read_text(encoding="utf-8").lower()
        found = sorted(n for n in names if re.search(rf"(?<![a-z_]){re.escape(n.lower())}(?![a-z_])", source))
        assert not found, f"{path.name} names {found}"


# ================================================================ renderings

def test_unicode_and_latex_of_a_few_steps():
    problem, solution = _reference()
    steps = derive(problem, solution).steps
    delta = next(s for s in steps if s.rule == "BP1")
    assert latex(delta.general) == r"\left(y - t\right) \cdot \sigma'(\mathrm{z2})"
    mazur = load(ROOT / "problems" / "mazur_2_2_2.yaml")
    steps = derive(mazur, solve(mazur)).steps
    bp2 = next(s for s in steps if s.rule == "BP2" and s.key == "layers[1].delta[0]")
    assert unicode(bp2.lhs) == "δ¹₁" and latex(bp2.lhs) == r"\delta^{1}_{1}"
    assert unicode(bp2.general) == "(w²₁₁·δ²₁ + w²₂₁·δ²₂)·σ′(z¹₁)"
    vector = next(s for s in steps if s.rule == "BP2" and s.key == "layers[1].delta")
    assert unicode(vector.general) == "((w²)ᵀ δ²) ⊙ σ′(z¹)"
    w5 = next(s for s in steps if s.title == "gradient of w5")
    assert unicode(w5.indexed) == "w²₁₁" and unicode(w5.general) == "δ²₁·a¹₁"


def test_vector_forms_then_scalars_and_no_scalars():
    mazur = load(ROOT / "problems" / "mazur_2_2_2.yaml")
    solution = solve(mazur)
    with_scalars = [s.key for s in derive(mazur, solution, scalars=True).steps]
    assert with_scalars.index("layers[1].z") + 1 == with_scalars.index("layers[1].z[0]")
    without = [s.key for s in derive(mazur, solution, scalars=False).steps]
    assert "layers[1].z" in without and "layers[1].z[0]" not in without


def test_scalar_entries_are_the_entries_of_the_vector_form():
    """One description: each scalar step's general form is an entry of the vector form."""
    mazur = load(ROOT / "problems" / "mazur_2_2_2.yaml")
    steps = derive(mazur, solve(mazur), scalars=True).steps
    vector = next(s for s in steps if s.key == "layers[1].z")
    entry = next(s for s in steps if s.key == "layers[1].z[1]")
    assert unicode(vector.general) == "w¹ x + b¹"
    assert unicode(entry.general) == "w¹₂₁·x₁ + w¹₂₂·x₂ + b¹₂"


def test_batch_shows_per_example_delta_and_the_mean():
    problem = load(ROOT / "problems" / "mini_batch_mean.yaml")
    solution = solve(problem)
    steps = derive(problem, solution).steps
    assert {s.key for s in steps} >= {f"layers[2].delta[{x}][0]" for x in range(3)}
    mean = next(s for s in steps if s.key == "gradients.b2_1")
    assert unicode(mean.general) == "(∂C₁/∂b²₁ + ∂C₂/∂b²₁ + ∂C₃/∂b²₁)/3"
    assert mean.rule == "mean"
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
    assert "σ′(z) = σ(z)·(1 − σ(z))" in joined and "σ′(z) = a·(1 − a)" in joined
    assert "tanh′(z) = 1 − tanh(z)²" in joined and "tanh′(z) = 1 − a²" in joined
    assert "ReLU′(z) = 1 for z > 0, 0 otherwise" in joined and "ReLU′(0) = 0" in joined
    assert "softplus′(z) = σ(z)" in joined
    assert "output with binary cross entropy" in joined and "δ₁ = y − t" in joined
    assert "output with cross entropy" in joined and "δ¹ = a¹ − t" in joined


def test_prose_uses_only_characters_latex_can_typeset():
    for path in PROBLEM_FILES:
        problem = load(path)
        solution = solve(problem)
        for derivation in all_derivations(problem, solution):
            texts = [derivation.title, *derivation.sections]
            for step in derivation.steps:
                texts.append(step.title)
                texts += [seg for seg in step.note or () if isinstance(seg, str)]
            for caution in derivation.warnings:
                texts += [seg for seg in caution.message if isinstance(seg, str)]
            for paragraph in derivation.intro:
                texts += [seg for seg in paragraph if isinstance(seg, str)]
            for text in texts:
                odd = {c for c in text if ord(c) >= 128 and c not in TEXT_LATEX and not c.isalpha()}
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


def test_warns_about_a_dead_neuron():
    problem = Problem.from_dict({"input": [1.0], "target": 0.5, "layers": [
        {"activation": "relu", "weights": [[0.5], [-0.5]], "bias": [0.0, 0.1]},
        {"activation": "identity", "weights": [[1.0, 1.0]]}]})
    derivation, found = _warnings(problem)
    assert set(found) == {"dead"}
    caution = found["dead"]
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
        assert {w.kind for w in derivation.warnings} <= {"saturated", "dead"}, path


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
    assert "layers[1].z" in keys and "layers[1].z[0]" not in keys
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
