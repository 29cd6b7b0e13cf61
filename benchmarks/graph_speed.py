"""Graph problems: bpcalc's forward + backward against micrograd's on the same graphs.

    python benchmarks/graph_speed.py                 # 3 rounds of each (median), ~1–2 min
    python benchmarks/graph_speed.py --rounds 5 --layers 500 --examples 2000

Two graphs, built node for node the same in both (each bpcalc node is one formula; in
micrograd the same formula is a handful of ``Value`` operations):

* **chain**: an unrolled, MLP-like stack of ``--layers`` layers of 10 units (20,000 nodes
  by default), h[l]_j = relu(w_j·h[l−1]_j + u_j·h[l−1]_{j+1} + b_j), with the 30
  parameters w, u, b shared by every layer (like an RNN through time), then
  C = (Σ_j h[L]_j − 1)². bpcalc: ``solve_graph`` of an already-loaded problem;
  micrograd: building the ``Value`` graph (its forward pass) and ``backward()``.
* **batch**: a 2-2-1 ReLU network with a squared error, 7 nodes, on ``--examples``
  examples (10,000) with reduction mean. bpcalc evaluates all examples at once
  (one NumPy array per node); micrograd loops over the examples, one graph and one
  ``backward()`` each, accumulating the parameters' gradients.

Loading (``Problem.from_dict``: validating the document and parsing every formula) is
timed on its own line. Before timing, the script checks that both give the same
output value and parameter gradients. micrograd is not a dependency of bpcalc
(``pip install micrograd``); without it the script says so and times bpcalc alone.
micrograd's ``backward`` sorts the graph recursively, so the script raises the
recursion limit and runs in a thread with a large stack.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout, too
# benchmarks/ is sys.path[0] when this runs as a script
from scale_speed import median_time as timed

from bpcalc.graph import solve_graph
from bpcalc.problem import Problem

UNITS = 10

try:
    from micrograd.engine import Value
except ImportError:             # not a dependency: the benchmark runs without it
    Value = None


# ------------------------------------------------------------------ the chain

def chain_parameters(seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    parameters = {}
    for j in range(1, UNITS + 1):               # |w| + |u| < 1: the stack stays bounded
        parameters[f"w{j}"] = round(float(rng.uniform(0.3, 0.6)), 3)
        parameters[f"u{j}"] = round(float(rng.uniform(-0.35, 0.35)), 3)
        parameters[f"b{j}"] = round(float(rng.uniform(0.05, 0.3)), 3)
    return parameters


def chain_document(layers: int) -> dict:
    inputs = {f"h0_{j}": 0.5 + 0.05 * j for j in range(1, UNITS + 1)}
    nodes = {}
    for layer in range(1, layers + 1):
        for j in range(1, UNITS + 1):
            right = j % UNITS + 1
            nodes[f"h{layer}_{j}"] = (f"relu(w{j}*h{layer - 1}_{j} + u{j}*h{layer - 1}_{right} + b{j})")
    total = " + ".join(f"h{layers}_{j}" for j in range(1, UNITS + 1))
    nodes["C"] = f"({total} - 1)^2"
    return {"inputs": inputs, "parameters": chain_parameters(), "nodes": nodes, "output": "C"}


def chain_micrograd(document: dict, layers: int) -> tuple[float, dict[str, float]]:
    params = {name: Value(value) for name, value in document["parameters"].items()}
    h = [Value(document["inputs"][f"h0_{j}"]) for j in range(1, UNITS + 1)]
    for _ in range(layers):
        h = [(params[f"w{j + 1}"] * h[j] + params[f"u{j + 1}"] * h[(j + 1) % UNITS] + params[f"b{j + 1}"]).relu()
             for j in range(UNITS)]
    total = h[0]
    for value in h[1:]:
        total = total + value
    cost = (total - 1) ** 2
    cost.backward()
    return cost.data, {name: p.grad for name, p in params.items()}


# ------------------------------------------------------------------ the batch

BATCH_PARAMETERS = {"w11": 0.5, "w12": -0.4, "w21": 0.3, "w22": 0.8, "b1": 0.1, "b2": -0.1,
                    "v1": 0.7, "v2": -0.6, "b3": 0.2}


def batch_document(examples: int, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(examples, 2)).round(4)
    t = rng.normal(0.0, 1.0, size=examples).round(4)
    return {
        "parameters": dict(BATCH_PARAMETERS),
        "examples": [{"inputs": {"x1": float(a), "x2": float(b), "t": float(c)}}
                     for (a, b), c in zip(x, t)],
        "reduction": "mean",
        "nodes": {"z1": "w11*x1 + w12*x2 + b1", "h1": "relu(z1)",
                  "z2": "w21*x1 + w22*x2 + b2", "h2": "relu(z2)",
                  "y": "v1*h1 + v2*h2 + b3", "e": "y - t", "C": "e^2"},
        "output": "C",
    }


def batch_micrograd(document: dict) -> tuple[float, dict[str, float]]:
    params = {name: Value(value) for name, value in document["parameters"].items()}
    p = params
    total = 0.0
    for example in document["examples"]:
        x1, x2, t = (example["inputs"][k] for k in ("x1", "x2", "t"))
        h1 = (p["w11"] * x1 + p["w12"] * x2 + p["b1"]).relu()
        h2 = (p["w21"] * x1 + p["w22"] * x2 + p["b2"]).relu()
        y = p["v1"] * h1 + p["v2"] * h2 + p["b3"]
        cost = (y - t) ** 2
        cost.backward()                 # the parameters' .grad accumulate over the examples
        total += cost.data
    count = len(document["examples"])
    return total / count, {name: value.grad / count for name, value in params.items()}


# ------------------------------------------------------------------ timing

def same(bpcalc_solution, micrograd_result, what: str) -> None:
    value, gradients = micrograd_result
    assert math.isclose(bpcalc_solution.total, value, rel_tol=1e-9), (what, bpcalc_solution.total, value)
    for name, gradient in gradients.items():
        mine = bpcalc_solution.gradients()[name]
        assert math.isclose(mine, gradient, rel_tol=1e-7, abs_tol=1e-12), (what, name, mine, gradient)


def compare(name: str, document: dict, micrograd, rounds: int, nodes: int) -> None:
    load, problem = timed(lambda: Problem.from_dict(document), max(1, rounds // 2))
    solve, solution = timed(lambda: solve_graph(problem), rounds)
    print(f"{name}: {nodes:,} nodes, {problem.examples:,} example(s)")
    print(f"  bpcalc load (Problem.from_dict)     {load * 1e3:10.1f} ms")
    print(f"  bpcalc solve_graph (fwd + bwd)      {solve * 1e3:10.1f} ms")
    if Value is None:
        print("  micrograd: not installed (pip install micrograd) — skipped")
        return
    same(solution, micrograd(), name)
    other, _ = timed(micrograd, rounds)
    print(f"  micrograd forward + backward        {other * 1e3:10.1f} ms")
    print(f"  ratio bpcalc / micrograd            {solve / other:10.3g}×   (solve only; "
          f"with loading {(solve + load) / other:.3g}×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--layers", type=int, default=2000, help="chain layers of 10 units")
    parser.add_argument("--examples", type=int, default=10_000, help="examples of the batch graph")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, NumPy {np.__version__}, micrograd "
          f"{'installed' if Value is not None else 'not installed'}; median of {args.rounds} rounds")
    chain = chain_document(args.layers)
    compare("chain", chain, lambda: chain_micrograd(chain, args.layers), args.rounds, len(chain["nodes"]))
    batch = batch_document(args.examples)
    compare("batch", batch, lambda: batch_micrograd(batch), args.rounds, len(batch["nodes"]))


if __name__ == "__main__":
    sys.setrecursionlimit(1_000_000)            # micrograd's topological sort recurses
    threading.stack_size(1 << 29)
    worker = threading.Thread(target=main)
    worker.start()
    worker.join()
