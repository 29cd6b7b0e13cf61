"""Tests of the sympy reference oracle itself (tests/sympy_reference.py).

The oracle is what bpcalc's solver is checked against, so here it is checked
against values derived by hand (closed forms), Mazur's published numbers,
finite differences, and the answer keys shipped in problems/.
"""

from __future__ import annotations

import copy
import decimal
import functools
import math
import pathlib
import re
import sys

import pytest
import sympy as sp
import yaml
from clitools import is_graph
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import references  # noqa: E402  (math formulas for every activation and loss)
from sympy_reference import lookup, loss, solve  # noqa: E402

PROBLEMS = sorted((pathlib.Path(__file__).parent.parent / "problems").glob("*.yaml"))
LAYERED_PROBLEMS = [path for path in PROBLEMS if not is_graph(path)]   # graphs: test_graph_problems


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


def close(a, b, rel=1e-12, abs_=1e-13):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def load(name):
    return yaml.safe_load((PROBLEMS[0].parent / name).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- the reference homework

def test_reference_problem_by_hand():
    s = solve(load("simple_network.yaml"))
    x, t, w1, w2, b = 3, 1, 0.01, -5, -1
    z1 = w1 * x                      # 0.03
    a1 = max(z1, 0)                  # ReLU
    z2 = w2 * a1 + b                 # -1.15
    y = sigmoid(z2)                  # 0.2405
    d2 = (y - t) * y * (1 - y)       # half squared error, sigmoid' = y(1-y)
    d1 = w2 * d2 * 1                 # ReLU'(0.03) = 1
    assert close(s["loss"], 0.5 * (y - t) ** 2)
    assert close(s["gradients"]["b"], d2)
    assert close(s["gradients"]["w2"], d2 * a1)
    assert close(s["gradients"]["w1"], d1 * x)
    assert close(s["updated"]["w1"], w1 - 0.1 * d1 * x)
    assert close(lookup(s, "layers[1].delta[0]"), d1)
    assert close(lookup(s, "layers[2].a[0]"), y)
    # the numbers quoted in the brief and the course's accepted answers
    assert round(s["gradients"]["w1"], 4) == 2.0809
    assert round(s["gradients"]["w2"], 7) == -0.0041618
    assert round(s["gradients"]["b"], 5) == -0.13873
    assert (round(s["gradients"]["w1"], 3), round(s["gradients"]["w2"], 3),
            round(s["gradients"]["b"], 3)) == (2.081, -0.004, -0.139)


# ---------------------------------------------------------------- closed forms

small = st.decimals(min_value=-3, max_value=3, places=2, allow_nan=False).map(float)


@settings(max_examples=25, deadline=None)
@given(w=small, b=small, x=small, t=small)
def test_single_identity_neuron_squared_error(w, b, x, t):
    s = solve({"input": x, "target": t, "loss": "squared_error", "learning_rate": 0.1,
               "layers": [{"activation": "identity", "weights": w, "bias": b}]})
    r = w * x + b - t
    assert close(s["loss"], r * r, abs_=1e-12)
    assert close(s["gradients"]["w1_11"], 2 * r * x, abs_=1e-12)
    assert close(s["gradients"]["b1_1"], 2 * r, abs_=1e-12)
    assert close(s["updated"]["w1_11"], w - 0.1 * 2 * r * x, abs_=1e-12)


def test_linear_is_an_alias_of_identity():
    p = {"input": 2, "target": 1, "layers": [{"activation": "linear", "weights": 0.5}]}
    assert close(solve(p)["gradients"]["w1_11"], (0.5 * 2 - 1) * 2)


def test_softmax_cross_entropy_delta_is_a_minus_t():
    p = {"input": [0.3, -1.2], "target": [0, 0, 1], "loss": "cross_entropy",
         "learning_rate": 1,
         "layers": [{"activation": "tanh", "weights": [[0.4, 0.1], [-0.2, 0.9]], "bias": [0, 0.3]},
                    {"activation": "softmax", "weights": [[1, -1], [0.5, 0.2], [-0.7, 0.3]],
                     "bias": [0.1, 0.2, 0.3]}]}
    s = solve(p)
    h = [math.tanh(0.4 * 0.3 + 0.1 * -1.2), math.tanh(-0.2 * 0.3 + 0.9 * -1.2 + 0.3)]
    z = [r[0] * h[0] + r[1] * h[1] + c for r, c in zip(p["layers"][1]["weights"], [0.1, 0.2, 0.3])]
    a = [math.exp(v) / sum(math.exp(u) for u in z) for v in z]
    assert close(s["loss"], -math.log(a[2]))
    for j in range(3):
        assert close(lookup(s, f"layers[2].delta[{j}]"), a[j] - p["target"][j])
        for k in range(2):
            assert close(lookup(s, f"layers[2].dC_dw[{j}][{k}]"), (a[j] - p["target"][j]) * h[k])
    # one step back: delta1 = (W2^T delta2) * tanh'(z1)
    d2 = [a[j] - p["target"][j] for j in range(3)]
    for k in range(2):
        back = sum(p["layers"][1]["weights"][j][k] * d2[j] for j in range(3))
        assert close(lookup(s, f"layers[1].delta[{k}]"), back * (1 - h[k] ** 2))


def test_sigmoid_binary_cross_entropy_delta_is_a_minus_t():
    p = {"input": [1.5, -0.5], "target": 0.25, "loss": "binary_cross_entropy",
         "layers": [{"activation": "sigmoid", "weights": [[0.2, 0.7]], "bias": -0.1}]}
    s = solve(p)
    a = sigmoid(0.2 * 1.5 + 0.7 * -0.5 - 0.1)
    assert close(s["loss"], -(0.25 * math.log(a) + 0.75 * math.log(1 - a)))
    assert close(lookup(s, "layers[1].delta[0]"), a - 0.25)
    assert close(s["gradients"]["w1_12"], (a - 0.25) * -0.5)


@pytest.mark.parametrize("name, factor", [("squared_error", 1), ("half_squared_error", 0.5),
                                          ("mean_squared_error", 1 / 3)])
def test_squared_error_family(name, factor):
    t = [0.5, -1, 2]
    p = {"input": [1, 2], "target": t, "loss": name,
         "layers": [{"activation": "identity", "weights": [[1, 0], [0, 1], [1, 1]]}]}
    s = solve(p)
    a = [1, 2, 3]
    assert close(s["loss"], factor * sum((ai - ti) ** 2 for ai, ti in zip(a, t)))
    assert close(s["gradients"]["w1_32"], factor * 2 * (3 - 2) * 2)


def test_relu_derivative_at_zero_is_zero_and_leaky_slope():
    relu = {"input": 3, "target": 1, "layers": [
        {"activation": "relu", "weights": 0, "names": {"weights": "w1"}},
        {"activation": "identity", "weights": 2, "bias": 0.5}]}
    assert solve(relu)["gradients"]["w1"] == 0
    leaky = copy.deepcopy(relu)
    leaky["layers"][0].update(activation="leaky_relu", weights=-1, slope=0.2)
    s = solve(leaky)  # z1 = -3, a1 = -0.6, y = -0.7, dC/dy = -1.7, dC/dw1 = -1.7*2*0.2*3
    assert close(s["gradients"]["w1"], -1.7 * 2 * 0.2 * 3)
    leaky["layers"][0].pop("slope")  # default slope 0.01
    assert close(solve(leaky)["gradients"]["w1"], (-0.03 * 2 + 0.5 - 1) * 2 * 0.01 * 3)


def test_softplus_derivative_is_sigmoid():
    p = {"input": 0.7, "target": 0, "layers": [{"activation": "softplus", "weights": 1.3}]}
    s = solve(p)
    z = 1.3 * 0.7
    assert close(lookup(s, "layers[1].a[0]"), math.log1p(math.exp(z)))
    assert close(s["gradients"]["w1_11"], math.log1p(math.exp(z)) * sigmoid(z) * 0.7)


# ---------------------------------------------------------------- Matt Mazur's example

MAZUR_PUBLISHED = {  # path -> his printed value
    "loss": "0.298371109", "layers[1].z[0]": "0.3775", "layers[1].a[0]": "0.593269992",
    "layers[1].a[1]": "0.596884378", "layers[2].z[0]": "1.105905967",
    "layers[2].a[0]": "0.75136507", "layers[2].a[1]": "0.772928465",
    "layers[2].delta[0]": "0.138498562", "gradients.w5": "0.082167041",
    "gradients.w1": "0.000438568",
    "updated.w1": "0.149780716", "updated.w2": "0.19956143", "updated.w3": "0.24975114",
    "updated.w4": "0.29950229", "updated.w5": "0.35891648", "updated.w6": "0.408666186",
    "updated.w7": "0.511301270", "updated.w8": "0.561370121",
}


@functools.cache
def mazur():
    return solve(load("mazur_2_2_2.yaml"))


@pytest.mark.parametrize("path, printed", MAZUR_PUBLISHED.items())
def test_mazur_published_numbers(path, printed):
    value = lookup(mazur(), path)
    decimals = len(printed.split(".")[1])
    assert abs(value - float(printed)) <= 0.5 * 10 ** -decimals + 1e-15, (value, printed)


def test_mazur_indexing_and_fixed_biases():
    s = mazur()
    g = s["gradients"]
    assert close(g["w2"], 2 * g["w1"]) and close(g["w4"], 2 * g["w3"])  # i2 = 2·i1
    assert close(g["w5"] / g["w6"], 0.593269992 / 0.596884378, rel=1e-8)  # h1 vs h2 into o1
    assert s["updated"]["b1_1"] == 0.35 and s["updated"]["b2_2"] == 0.6 and g["b2_1"] > 0


# ---------------------------------------------------------------- batches, fixed, names

BATCH = {"examples": [{"input": [1, -1], "target": 0.5}, {"input": [0.5, 2], "target": -1},
                      {"input": [-2, 0], "target": 0}],
         "learning_rate": 0.1,
         "layers": [{"activation": "tanh", "weights": [[0.3, 0.1], [-0.4, 0.2]], "bias": [0, 0.1]},
                    {"activation": "identity", "weights": [[0.5, -0.5]], "bias": 0.2}]}


def test_mean_is_the_average_of_single_example_solutions():
    mean = solve(BATCH)
    singles = [solve({**BATCH, "examples": None, **ex}) for ex in BATCH["examples"]]
    assert close(mean["loss"], sum(s["loss"] for s in singles) / 3)
    for name, g in mean["gradients"].items():
        assert close(g, sum(s["gradients"][name] for s in singles) / 3)
    for x, s in enumerate(singles):  # per-example deltas are not divided by m
        assert close(lookup(mean, f"layers[1].delta[{x}][1]"), lookup(s, "layers[1].delta[1]"))
        assert close(lookup(mean, f"layers[2].a[{x}][0]"), lookup(s, "layers[2].a[0]"))


def test_sum_reduction_is_m_times_mean():
    mean, total = solve(BATCH), solve({**BATCH, "reduction": "sum"})
    assert close(total["loss"], 3 * mean["loss"])
    for name, g in mean["gradients"].items():
        assert close(total["gradients"][name], 3 * g)
    assert total["layers"][0]["delta"] == mean["layers"][0]["delta"]


@pytest.mark.parametrize("fixed", ["weights", "bias", ["weights", "bias"]])
def test_fixed_parameters_keep_their_value_but_have_gradients(fixed):
    p = copy.deepcopy(BATCH)
    p["layers"][0]["fixed"] = fixed
    s, free = solve(p), solve(BATCH)
    kinds = {fixed} if isinstance(fixed, str) else set(fixed)
    assert s["gradients"] == free["gradients"]
    assert (s["updated"]["w1_12"] == 0.1) == ("weights" in kinds)
    assert (s["updated"]["b1_2"] == 0.1) == ("bias" in kinds)
    assert s["updated"]["w2_11"] == free["updated"]["w2_11"] != 0.5


def test_default_names():
    p = {"input": list(range(10)), "target": 0,
         "layers": [{"activation": "identity", "weights": [[0.1] * 10, [0.2] * 10], "bias": [0, 0]},
                    {"activation": "identity", "weights": [[1, 1]]}]}
    g = solve(p)["gradients"]
    assert {"w1_1_10", "w1_2_1", "b1_1", "b1_2", "w2_11", "w2_12"} <= set(g)
    assert "w1_110" not in g and "b2_1" not in g  # layer 2 has no bias


def test_names_for_a_row_and_a_column():
    p = {"input": 1, "target": [0, 0],
         "layers": [{"activation": "identity", "weights": [[2], [3]], "names": {"weights": ["u", "v"]}},
                    {"activation": "identity", "weights": [[1, 0], [0, 1]],
                     "bias": [0, 0], "names": {"bias": ["c", "d"]}}]}
    g = solve(p)["gradients"]
    assert close(g["u"], 2) and close(g["v"], 3) and close(g["d"], 3)


def test_lookup_uses_1_based_layers():
    s = solve(load("simple_network.yaml"))
    assert lookup(s, "layers[2].z[0]") == s["layers"][1]["z"][0]
    assert lookup(s, "gradients.w1") == s["gradients"]["w1"]
    with pytest.raises(IndexError):
        lookup(s, "layers[0].z[0]")


# ---------------------------------------------------------------- the shipped problems

def _flat(x):
    return [v for item in x for v in _flat(item)] if isinstance(x, list) else [x]


@pytest.mark.parametrize("path", LAYERED_PROBLEMS, ids=lambda p: p.name)
def test_shipped_key_matches_the_oracle(path):
    problem = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert problem.get("title") and problem.get("description")
    key = problem["expected"]
    assert "loss" in key and any(k.startswith("gradients.") for k in key)
    assert any(k.startswith(("updated.", "layers")) and "updated" in k for k in key)
    solution = solve(problem)
    for k, want in key.items():
        if k.startswith("train."):
            continue             # a training run: the oracle takes no steps (tests/test_training.py)
        assert re.fullmatch(r"loss|penalty|(gradients|updated)\.\w+|layers\[\d+\]\.\w+(\[\d+\])*", k), k
        got = lookup(solution, k)
        assert len(_flat(got)) == len(_flat(want)), k
        for g, w in zip(_flat(got), _flat(want)):
            # the key must be the oracle's value rounded to the digits written
            half_unit = 0.5 * 10.0 ** decimal.Decimal(repr(float(w))).as_tuple().exponent
            assert abs(g - w) <= half_unit * (1 + 1e-9) + 1e-15, (k, g, w)


@pytest.mark.parametrize("path", LAYERED_PROBLEMS, ids=lambda p: p.name)
def test_shipped_gradients_match_finite_differences(path):
    problem = yaml.safe_load(path.read_text(encoding="utf-8"))
    solution, h = solve(problem), sp.Rational(1, 10**6)
    for l, layer in enumerate(problem["layers"]):
        for part, grad in (("weights", "dC_dw"), ("bias", "dC_db")):
            if layer.get(part) is None:
                continue
            values = _flat(layer[part])
            for i, v in enumerate(values):
                def cost(shift):
                    p = copy.deepcopy(problem)
                    flat = [sp.Rational(str(u)) for u in values]
                    flat[i] += shift
                    rows = layer[part] if isinstance(layer[part], list) else [layer[part]]
                    if part == "weights" and isinstance(rows[0], list):
                        n = len(rows[0])
                        flat = [flat[r * n:(r + 1) * n] for r in range(len(rows))]
                    p["layers"][l][part] = flat if isinstance(layer[part], list) else flat[0]
                    return loss(p)
                fd = (cost(h) - cost(-h)) / (2 * float(h))
                exact = _flat(solution["layers"][l][grad])[i]
                assert math.isclose(exact, fd, rel_tol=1e-7, abs_tol=1e-9), (l + 1, part, i)


def test_problem_readme_covers_every_problem():
    readme = (PROBLEMS[0].parent / "README.md").read_text(encoding="utf-8")
    for path in PROBLEMS:
        assert path.name in readme


# ------------------------------------------- every activation and loss, one neuron, by hand


@pytest.mark.parametrize("z", [-1.5, -1.0, 0.0, 0.75, 1.0, 2.5])     # the kinks 0 and ±1 too
@pytest.mark.parametrize("name", sorted(references.ACTIVATION))
def test_one_neuron_of_each_activation_by_hand(name, z):
    """z = w·1, C = ½(a − t)²: ∂C/∂w = (a − t)·f′(z), with f and f′ from the references."""
    s = solve({"input": 1, "target": 0.3, "learning_rate": 0.1,
               "layers": [{"activation": name, "weights": z}]})
    a, slope = references.ACTIVATION[name](z), references.ACTIVATION_PRIME[name](z)
    assert close(s["loss"], 0.5 * (a - 0.3) ** 2)
    assert close(s["gradients"]["w1_11"], (a - 0.3) * slope), (name, z)
    assert close(lookup(s, "layers[1].delta[0]"), (a - 0.3) * slope)


_OUTPUTS = [([0.2, 0.7], [0.0, 1.0]), ([0.35, 0.6], [0.3, 0.65]), ([0.5, 2.5], [0.5, 0.3]),
            ([-1.25, 0.25], [0.25, 0.25])]


@pytest.mark.parametrize("name, a, t", [
    (name, a, t) for name in sorted(references.LOSS) for a, t in _OUTPUTS
    if name not in ("cross_entropy", "binary_cross_entropy") or all(0 < v < 1 for v in a)])
def test_each_loss_by_hand(name, a, t):
    """Two identity outputs a = w·1: C and ∂C/∂w = ∂C/∂a from the references (on the L1 kink
    a = t too, and on both sides of Huber's δ = 1)."""
    s = solve({"input": 1, "target": t, "loss": name,
               "layers": [{"activation": "identity", "weights": [[a[0]], [a[1]]]}]})
    assert close(s["loss"], references.LOSS[name](a, t))
    for j, expected in enumerate(references.LOSS_GRADIENT[name](a, t)):
        assert close(s["gradients"][f"w1_{j + 1}1"], expected), (name, j)
