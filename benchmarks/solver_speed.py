"""``bpcalc.solve`` against the same forward and backward pass written directly in NumPy.

    python benchmarks/solver_speed.py                # 30 alternated rounds
    python benchmarks/solver_speed.py --rounds 10 --width 500 --examples 128

The network: input width 1,000, three layers of 1,000 neurons (sigmoid, tanh,
sigmoid), 256 examples, half squared error, mean over the examples, η = 0.1,
so both sides compute z, a, δ for every layer, dC/dw, dC/db and the SGD update.
Weights are drawn at the scale 1/sqrt(width), so nothing saturates.

Before any timing, the script checks that both sides give the same loss,
gradients and updates (``np.allclose``). Then in one process, alternated
rounds (bpcalc, then the baseline, then the other way round) and the median.
``Problem.from_dict`` (which validates every one of the ~3.5 million numbers)
is timed on its own line, with fewer rounds, since it dwarfs the solve.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout, too
import bpcalc  # noqa: E402
from bpcalc.problem import Problem  # noqa: E402

ACTIVATIONS = ("sigmoid", "tanh", "sigmoid")
LEARNING_RATE = 0.1


def make_document(width: int, examples: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    layers = []
    for activation in ACTIVATIONS:
        layers.append({
            "activation": activation,
            "weights": rng.normal(0.0, 1.0 / np.sqrt(width), size=(width, width)),
            "bias": rng.normal(0.0, 0.1, size=width),
        })
    inputs = rng.normal(0.0, 1.0, size=(examples, width))
    targets = rng.uniform(0.0, 1.0, size=(examples, width))
    return {
        "examples": [{"input": x, "target": t} for x, t in zip(inputs, targets)],
        "loss": "half_squared_error",
        "reduction": "mean",
        "learning_rate": LEARNING_RATE,
        "layers": layers,
    }


# ----------------------------------------------------------------- the baseline: plain NumPy

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


FUNCTIONS = {
    "sigmoid": (sigmoid, lambda z, a: a * (1.0 - a)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
}


def numpy_pass(x, t, weights, biases, activations, rate):
    """Forward, BP1–BP4 and one SGD step, mean over the examples (rows)."""
    zs, acts = [], [x]
    for w, b, name in zip(weights, biases, activations):
        z = acts[-1] @ w.T + b
        zs.append(z)
        acts.append(FUNCTIONS[name][0](z))
    a_out = acts[-1]
    loss = 0.5 * np.sum((a_out - t) ** 2, axis=1).mean()
    delta = (a_out - t) * FUNCTIONS[activations[-1]][1](zs[-1], a_out)
    m = x.shape[0]
    grads_w, grads_b = [None] * len(weights), [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        grads_w[l] = delta.T @ acts[l] / m
        grads_b[l] = delta.sum(axis=0) / m
        if l:
            delta = (delta @ weights[l]) * FUNCTIONS[activations[l - 1]][1](zs[l - 1], acts[l])
    new_w = [w - rate * g for w, g in zip(weights, grads_w)]
    new_b = [b - rate * g for b, g in zip(biases, grads_b)]
    return loss, grads_w, grads_b, new_w, new_b


# ----------------------------------------------------------------- timing

def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return (time.perf_counter() - start) * 1000.0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="alternated rounds for the solve (default 30)")
    parser.add_argument("--build-rounds", type=int, default=5,
                        help="rounds for Problem.from_dict (default 5)")
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--examples", type=int, default=256)
    args = parser.parse_args()

    document = make_document(args.width, args.examples)
    problem = Problem.from_dict(document)
    x, t = problem.inputs, problem.targets
    weights = [layer.weights for layer in problem.layers]
    biases = [layer.bias for layer in problem.layers]
    baseline_args = (x, t, weights, biases, ACTIVATIONS, LEARNING_RATE)

    # Same numbers first.
    solution = bpcalc.solve(problem)
    loss, grads_w, grads_b, new_w, new_b = numpy_pass(*baseline_args)
    assert np.allclose(solution.loss, loss, rtol=1e-10, atol=0), (solution.loss, loss)
    for number, layer in enumerate(solution.layers):
        assert np.allclose(layer.dC_dw, grads_w[number], rtol=1e-9, atol=1e-15), f"dC/dw of layer {number + 1}"
        assert np.allclose(layer.dC_db, grads_b[number], rtol=1e-9, atol=1e-15), f"dC/db of layer {number + 1}"
        assert np.allclose(layer.w_updated, new_w[number]), f"updated w of layer {number + 1}"
        assert np.allclose(layer.b_updated, new_b[number]), f"updated b of layer {number + 1}"
    largest = max(float(np.abs(g).max()) for g in grads_w)
    print(f"Same loss, dC/dw, dC/db and updates in all {len(ACTIVATIONS)} layers (np.allclose); "
          f"loss {loss:.6g}, largest |dC/dw| {largest:.3g}")

    # Warm up both, then alternate.
    timed(bpcalc.solve, problem)
    timed(numpy_pass, *baseline_args)
    solve_ms, numpy_ms = [], []
    for round_number in range(args.rounds):
        pair = [(solve_ms, bpcalc.solve, (problem,)), (numpy_ms, numpy_pass, baseline_args)]
        for sink, function, call_args in (pair if round_number % 2 == 0 else pair[::-1]):
            sink.append(timed(function, *call_args)[0])

    build_ms = [timed(Problem.from_dict, document)[0] for _ in range(args.build_rounds)]

    values = args.width * args.width * len(ACTIVATIONS) + args.width * len(ACTIVATIONS) \
        + 2 * args.examples * args.width
    print(f"NumPy {np.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; network "
          f"{args.width}-" + "-".join(f"{args.width}({a})" for a in ACTIVATIONS)
          + f", {args.examples} examples, half_squared_error, mean, with the SGD update")
    print()
    print(f"{'':<40}{'median ms':>10}{'min ms':>10}{'rounds':>8}")
    rows = [("bpcalc.solve(problem)", solve_ms),
            ("plain NumPy forward + backward + update", numpy_ms),
            (f"Problem.from_dict ({values / 1e6:.2f} M numbers)", build_ms)]
    for label, times in rows:
        print(f"{label:<40}{statistics.median(times):10.1f}{min(times):10.1f}{len(times):8d}")
    ratio = statistics.median(solve_ms) / statistics.median(numpy_ms)
    print()
    print(f"ratio solve / NumPy baseline: {ratio:.2f} (medians), {min(solve_ms) / min(numpy_ms):.2f} (minimums)")
    print(f"Problem.from_dict: {statistics.median(build_ms) / statistics.median(solve_ms):.1f}× the solve, "
          f"{statistics.median(build_ms) * 1e6 / values:.0f} ns per number")


if __name__ == "__main__":
    main()
