"""The shipped graph problems and bpcalc's graph solver against the independent oracle
(tests/graph_oracle.py), the published numbers of cs231n, Colah and micrograd, a NumPy
BPTT written from the textbook recurrence, and random graphs with finite differences."""

from __future__ import annotations

import math
import pathlib
import sys

import numpy as np
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import graph_oracle as oracle

from bpcalc.errors import BpcalcError
from bpcalc.graph import solve_graph
from bpcalc.problem import Problem

PROBLEMS = pathlib.Path(__file__).parent.parent / "problems"
GRAPHS = sorted(p for p in PROBLEMS.glob("*.yaml") if "nodes" in yaml.safe_load(p.read_text("utf-8")))
IDS = [p.name for p in GRAPHS]


def document(name: str) -> dict:
    return yaml.safe_load((PROBLEMS / name).read_text(encoding="utf-8"))


def flat(value) -> list[float]:
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


def close(got, want, rel=1e-9, abs_=1e-12) -> bool:
    got, want = flat(got), flat(want)
    return len(got) == len(want) and all(math.isclose(g, w, rel_tol=rel, abs_tol=abs_)
                                         for g, w in zip(got, want))


def bpcalc_solution(doc: dict) -> dict:
    return solve_graph(Problem.from_dict(doc)).to_dict()


@pytest.fixture(scope="module")
def oracles() -> dict:
    """The SymPy oracle's solution of every shipped graph problem (computed once)."""
    return {path.name: oracle.solve(document(path.name)) for path in GRAPHS}


def test_every_new_problem_is_shipped():
    names = {"cs231n_add_multiply.yaml", "cs231n_sigmoid_neuron.yaml", "cs231n_staged.yaml",
             "colah_fanout.yaml", "micrograd_readme.yaml", "max_gate.yaml", "rnn_scalar_bptt.yaml",
             "rnn_every_step.yaml", "rnn_two_units.yaml", "cross_correlation_1d.yaml",
             "sigmoid_neuron_batch.yaml"}
    assert names <= set(IDS)


@pytest.mark.parametrize("path", GRAPHS, ids=IDS)
def test_shipped_key_equals_the_oracle(path, oracles):
    doc = document(path.name)
    solution = oracles[path.name]
    keys = doc["expected"]
    assert "value" in keys
    varying = doc["examples"][0]["inputs"] if "examples" in doc else {}
    for leaf in [*(doc.get("inputs") or {}), *varying, *(doc.get("parameters") or {})]:
        assert f"gradients.{leaf}" in keys, leaf
    if doc.get("learning_rate") is not None:
        for name in doc["parameters"]:
            assert f"updated.{name}" in keys, name
    for key, want in keys.items():
        assert close(want, oracle.lookup(solution, key)), (key, want, oracle.lookup(solution, key))


@pytest.mark.parametrize("path", GRAPHS, ids=IDS)
def test_bpcalc_agrees_with_both_oracles_on_every_value_and_gradient(path, oracles):
    doc = document(path.name)
    want = oracles[path.name]
    fast = oracle.reverse_mode(doc)
    got = bpcalc_solution(doc)
    assert got["output"] == want["output"]
    for solution in (got, fast):
        assert close(solution["value"], want["value"])
        assert set(solution["nodes"]) == set(want["nodes"])
        for name, node in want["nodes"].items():
            assert close(solution["nodes"][name]["value"], node["value"]), name
            assert close(solution["nodes"][name]["grad"], node["grad"]), name
        assert set(solution["gradients"]) == set(want["gradients"])
        for name, gradient in want["gradients"].items():
            assert close(solution["gradients"][name], gradient), name
        assert set(solution["updated"]) == set(want["updated"])
        for name, value in want["updated"].items():
            assert close(solution["updated"][name], value), name
        if "total" in want:
            assert close(solution["total"], want["total"])


# ---------------------------------------------------------------- published numbers

def test_oracle_reproduces_cs231n_add_multiply(oracles):
    s = oracles["cs231n_add_multiply.yaml"]
    assert s["value"] == -12 and s["nodes"]["q"]["value"] == 3 and s["nodes"]["q"]["grad"] == -4
    assert s["gradients"] == {"x": -4, "y": -4, "z": 3}


def test_oracle_reproduces_the_cs231n_sigmoid_neuron_figure(oracles):
    s = oracles["cs231n_sigmoid_neuron.yaml"]
    figure = {"w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}
    for name, shown in figure.items():
        assert round(s["gradients"][name], 2) == shown, name
    assert round(s["value"], 2) == 0.73
    f = 1 / (1 + math.exp(-1.0))              # the dot product is 1; σ′ = (1 − f)·f
    assert math.isclose(s["gradients"]["w0"], -1 * (1 - f) * f, rel_tol=1e-14)
    assert math.isclose(s["updated"]["w2"], -3 - 0.1 * (1 - f) * f, rel_tol=1e-14)


def test_oracle_reproduces_cs231n_staged_by_hand(oracles):
    s = oracles["cs231n_staged.yaml"]
    x, y = 3.0, -4.0
    sig = lambda v: 1 / (1 + math.exp(-v))
    num, den = x + sig(y), sig(x) + (x + y) ** 2
    dx = 1 / den - num / den ** 2 * (sig(x) * (1 - sig(x)) + 2 * (x + y))
    dy = sig(y) * (1 - sig(y)) / den - num / den ** 2 * 2 * (x + y)
    assert math.isclose(s["gradients"]["x"], dx, rel_tol=1e-13)
    assert math.isclose(s["gradients"]["y"], dy, rel_tol=1e-13)
    assert math.isclose(s["value"], num / den, rel_tol=1e-14)


def test_oracle_reproduces_colah(oracles):
    s = oracles["colah_fanout.yaml"]
    assert s["value"] == 6 and s["gradients"] == {"a": 2, "b": 5}
    assert s["nodes"]["c"]["value"] == 3 and s["nodes"]["d"]["value"] == 2


def test_oracle_reproduces_micrograd_readme(oracles):
    s = oracles["micrograd_readme.yaml"]
    assert f"{s['value']:.4f}" == "24.7041"
    assert f"{s['gradients']['a']:.4f}" == "138.8338"
    assert f"{s['gradients']['b']:.4f}" == "645.5773"


def test_oracle_reproduces_the_cs231n_max_gate(oracles):
    s = oracles["max_gate.yaml"]
    assert s["value"] == -20 and s["gradients"] == {"x": -8, "y": 6, "z": 2, "w": 0}


# ---------------------------------------------------------------- BPTT by hand (NumPy)

def elman_bptt(W, U, b, v, xs, targets):
    """Textbook BPTT of h_t = tanh(W h_{t−1} + U x_t + b), y_t = v·h_t, h_0 = 0,
    C = Σ_t ½(y_t − t_t)² over the steps whose target is not None:
    δh_t = ∂C/∂h_t (own output) + Wᵀ [(1 − h_{t+1}²) ⊙ δh_{t+1}]."""
    W, U, b, v = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (W, U, b, v))
    W = W.reshape(len(b), len(b))
    hs = [np.zeros(len(b))]
    for x in xs:
        hs.append(np.tanh(W @ hs[-1] + U * x + b))
    steps = len(xs)
    errors = [0.0 if targets[t] is None else float(v @ hs[t + 1] - targets[t]) for t in range(steps)]
    cost = sum(0.5 * e * e for t, e in enumerate(errors) if targets[t] is not None)
    dW, dU, db, dv = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b), np.zeros_like(v)
    dpre_next = np.zeros(len(b))
    for t in reversed(range(steps)):
        h, h_prev = hs[t + 1], hs[t]
        dh = errors[t] * v + W.T @ dpre_next
        dpre = dh * (1 - h ** 2)
        dW += np.outer(dpre, h_prev)
        dU += dpre * xs[t]
        db += dpre
        dv += errors[t] * h
        dpre_next = dpre
    return cost, dW, dU, db, dv


def _bpcalc_and_oracle(name, oracles):
    doc = document(name)
    return doc, bpcalc_solution(doc)["gradients"], oracles[name]["gradients"]


@pytest.mark.parametrize("name, targets", [("rnn_scalar_bptt.yaml", [None, None, 0.5]),
                                           ("rnn_every_step.yaml", [0.2, -0.3, 0.5])])
def test_scalar_rnn_matches_a_numpy_bptt(name, targets, oracles):
    doc, got, want = _bpcalc_and_oracle(name, oracles)
    p = doc["parameters"]
    cost, dW, dU, db, dv = elman_bptt(p["w"], p["u"], p["b"], p["v"], [1, -1, 2], targets)
    hand = {"w": dW[0, 0], "u": dU[0], "b": db[0], "v": dv[0]}
    for key, value in hand.items():
        assert math.isclose(want[key], value, rel_tol=1e-12), key
        assert math.isclose(got[key], value, rel_tol=1e-12), key
    assert math.isclose(bpcalc_solution(doc)["value"], cost, rel_tol=1e-13)


def test_scalar_rnn_per_step_contributions_sum_to_the_gradient():
    doc = document("rnn_scalar_bptt.yaml")
    solution = solve_graph(Problem.from_dict(doc))
    assert solution.users["w"] == ("h1", "h2", "h3")
    parts = [float(solution.contribution(node, "w")[0]) for node in solution.users["w"]]
    assert parts[0] == 0                                   # h0 = 0
    assert math.isclose(sum(parts), solution.gradients()["w"], rel_tol=1e-14)


def test_two_unit_rnn_matches_a_numpy_bptt(oracles):
    doc, got, want = _bpcalc_and_oracle("rnn_two_units.yaml", oracles)
    p = doc["parameters"]
    W = [[p["w11"], p["w12"]], [p["w21"], p["w22"]]]
    _cost, dW, dU, db, dv = elman_bptt(W, [p["u1"], p["u2"]], [p["b1"], p["b2"]], [p["v1"], p["v2"]],
                                      [1, -1, 2], [None, None, 0.5])
    hand = {f"w{j + 1}{k + 1}": dW[j, k] for j in range(2) for k in range(2)}
    hand.update({f"u{j + 1}": dU[j] for j in range(2)})
    hand.update({f"b{j + 1}": db[j] for j in range(2)})
    hand.update({f"v{j + 1}": dv[j] for j in range(2)})
    for key, value in hand.items():
        assert math.isclose(want[key], value, rel_tol=1e-12), key
        assert math.isclose(got[key], value, rel_tol=1e-12), key


def test_cross_correlation_gradient_is_the_correlation_of_signal_and_errors(oracles):
    doc, got, want = _bpcalc_and_oracle("cross_correlation_1d.yaml", oracles)
    s = np.array([doc["inputs"][f"s{i}"] for i in range(1, 6)], dtype=float)
    k = np.array([doc["parameters"][f"k{j}"] for j in range(1, 4)], dtype=float)
    t = np.array([doc["inputs"][f"t{i}"] for i in range(1, 4)], dtype=float)
    errors = np.correlate(s, k, mode="valid") - t
    kernel_gradient = np.correlate(s, errors, mode="valid")             # Σ_i e_i s_{i+j−1}
    signal_gradient = np.convolve(errors, k, mode="full")               # the transposed op
    for j in range(3):
        assert math.isclose(want[f"k{j + 1}"], kernel_gradient[j], rel_tol=1e-12)
        assert math.isclose(got[f"k{j + 1}"], kernel_gradient[j], rel_tol=1e-12)
    for i in range(5):
        assert math.isclose(got[f"s{i + 1}"], signal_gradient[i], rel_tol=1e-12, abs_tol=1e-15)


def test_batch_is_the_mean_of_single_examples():
    doc = document("sigmoid_neuron_batch.yaml")
    batch = oracle.solve(doc, node_grads=False)
    singles = []
    for example in doc["examples"]:
        single = {k: v for k, v in doc.items() if k not in ("examples", "reduction", "expected", "questions")}
        singles.append(oracle.solve({**single, "inputs": example["inputs"]}, node_grads=False))
    for name in doc["parameters"]:
        mean = sum(s["gradients"][name] for s in singles) / 3
        assert math.isclose(batch["gradients"][name], mean, rel_tol=1e-13)
        assert math.isclose(bpcalc_solution(doc)["gradients"][name], mean, rel_tol=1e-12)
    assert batch["gradients"]["x0"] == pytest.approx([s["gradients"]["x0"] for s in singles], rel=1e-13)


def test_oracle_keeps_bpcalc_tie_rules():
    """relu′(0) = 0, abs′(0) = 0, and max/min send a tie's gradient to the first argument."""
    doc = {"inputs": {"x": 0, "y": 2, "z": 2}, "nodes": {"r": "relu(x) + abs(x)", "m": "max(y, z)",
                                                          "n": "min(z, y)", "f": "r + 3*m + 5*n"}}
    want = oracle.solve(doc)["gradients"]
    assert want == {"x": 0, "y": 3, "z": 5}
    assert bpcalc_solution(doc)["gradients"] == want
    assert oracle.reverse_mode(doc)["gradients"] == want


def test_oracle_reads_the_sign_rules_of_the_formula_language():
    cases = {"-2^2": -4, "2^-1": 0.5, "2*-2^2": 8, "2^-2^2": 16, "1--2": 3, "--2": 2, "2^3^2": 512,
             "e^2": math.e ** 2, "pi + 0": math.pi}
    for text, value in cases.items():
        solution = oracle.solve({"inputs": {"x": 1}, "nodes": {"f": f"{text} + 0*x"}})
        assert math.isclose(solution["value"], value, rel_tol=1e-15), text
        assert math.isclose(bpcalc_solution({"inputs": {"x": 1}, "nodes": {"f": f"{text} + 0*x"}})["value"],
                            value, rel_tol=1e-15), text


# ---------------------------------------------------------------- random graphs

UNARY = ["sigma({0})", "tanh({0})", "relu({0})", "exp({0}/4)", "ln(1 + {0}^2)", "sqrt(2 + {0})",
         "abs({0})", "softplus({0})", "{0}^2", "{0}^3", "-{0}", "(1 + {0}^2)^0.5", "ln(sigma({0}))"]
BINARY = ["{0} + {1}", "{0} - {1}", "{0}*{1}", "{0}/(1 + {1}^2)", "max({0}, {1})", "min({0}, {1})",
          "sigma({0})^{1}", "sqrt({0}^2 + {1}^2 + 0.5)", "{0}*sigma({1}) - {1}"]
TERNARY = ["max({0}, {1}, {2})", "min({0}, {1}, {2})", "{0}*{1} + {2}"]


@st.composite
def random_graphs(draw, examples=False):
    """A random DAG of 3–15 nodes over 1–3 inputs and 0–2 parameters: each node applies a
    template to earlier names (so values fan out), and the last node adds up every node
    no other node uses, so every node reaches the output."""
    value = st.integers(-16, 16).map(lambda n: n / 8)
    inputs = {f"x{i}": draw(value) for i in range(draw(st.integers(1, 3)))}
    parameters = {f"p{i}": draw(value) for i in range(draw(st.integers(0, 2)))}
    names = [*inputs, *parameters]
    unused: list[str] = []
    nodes: dict[str, str] = {}
    for i in range(draw(st.integers(2, 14))):
        template = draw(st.sampled_from(UNARY + BINARY + TERNARY))
        arity = 3 if "{2}" in template else 2 if "{1}" in template else 1
        args = [draw(st.sampled_from(names)) for _ in range(arity)]
        for arg in args:
            if arg in unused:
                unused.remove(arg)
        nodes[f"n{i}"] = template.format(*args)
        names.append(f"n{i}")
        unused.append(f"n{i}")
    nodes["out"] = " + ".join(unused)
    doc = {"inputs": inputs, "parameters": parameters, "nodes": nodes}
    if examples and inputs:
        varying = next(iter(inputs))
        del doc["inputs"][varying]
        doc["examples"] = [{"inputs": {varying: draw(value)}} for _ in range(3)]
        doc["reduction"] = draw(st.sampled_from(["mean", "sum"]))
        doc["learning_rate"] = 0.1
    return doc


def _solve_or_skip(doc):
    try:
        problem = Problem.from_dict(doc)
        return solve_graph(problem)
    except BpcalcError:
        return None                             # outside a function's domain, or overflow


@settings()                          # the profile: 100 by default, 1,000 in ci
@given(random_graphs())
def test_random_graphs_agree_with_the_oracle_and_finite_differences(doc):
    solution = _solve_or_skip(doc)
    assume(solution is not None)
    got = solution.to_dict()
    assume(all(abs(v) < 1e6 for v in flat(got["value"])))
    fast = oracle.reverse_mode(doc)
    assume(fast["kink"] > 1e-3)                  # a kink (relu, abs, max, min) far from the point
    scale = max(1.0, *(abs(g) for g in got["gradients"].values()))
    for name, gradient in fast["gradients"].items():
        assert math.isclose(got["gradients"][name], gradient, rel_tol=1e-7, abs_tol=1e-9 * scale), name
    for name, node in fast["nodes"].items():
        assert math.isclose(got["nodes"][name]["grad"], node["grad"], rel_tol=1e-7,
                            abs_tol=1e-9 * scale), name
    leaves = {**doc["inputs"], **doc["parameters"]}
    for name, value in leaves.items():
        h = 1e-5
        shifted = []
        for sign in (1, -1):
            moved = {**doc, "inputs": dict(doc["inputs"]), "parameters": dict(doc["parameters"])}
            moved["inputs" if name in doc["inputs"] else "parameters"][name] = value + sign * h
            shifted.append(_solve_or_skip(moved))
        if None in shifted:
            continue
        numeric = (shifted[0].value - shifted[1].value) / (2 * h)
        assert math.isclose(got["gradients"][name], numeric, rel_tol=1e-5, abs_tol=1e-6 * scale), name


@settings(max_examples=25)
@given(random_graphs(examples=True))
def test_random_graphs_with_examples_agree_with_the_symbolic_oracle(doc):
    solution = _solve_or_skip(doc)
    assume(solution is not None)
    got = solution.to_dict()
    assume(all(abs(v) < 1e6 for v in flat(got["value"])))
    assume(oracle.reverse_mode(doc)["kink"] > 1e-3)
    want = oracle.solve(doc, node_grads=False)
    scale = max([1.0] + [abs(g) for v in got["gradients"].values() for g in flat(v)])
    for name, gradient in want["gradients"].items():
        for g, w in zip(flat(got["gradients"][name]), flat(gradient)):
            assert math.isclose(g, w, rel_tol=1e-7, abs_tol=1e-9 * scale), name
    for name, value in want["updated"].items():
        assert math.isclose(got["updated"][name], value, rel_tol=1e-7, abs_tol=1e-9 * scale), name
    assert math.isclose(got["total"], want["total"], rel_tol=1e-9, abs_tol=1e-12)
