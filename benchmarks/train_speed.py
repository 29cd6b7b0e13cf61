"""``bpcalc train`` as a whole process against a bare NumPy script doing the same steps.

    python benchmarks/train_speed.py              # 10 alternated rounds, 10,000 steps
    python benchmarks/train_speed.py --runs 20 --steps 20000

Mazur's 2-2-2 network (problems/mazur_2_2_2.yaml: sigmoid, half squared error, biases
fixed, η = 0.5). Both sides run in a fresh ``python`` process each round, start-up
included: ``python -m bpcalc train … --format json`` (which loads and validates the file,
trains, and prints every step's loss as JSON) and a script that imports NumPy, holds the
same numbers as literals, and runs the same forward pass, BP1–BP4 and SGD step 10,000
times, printing the final loss. The script first checks that both give the same final
loss, then prints the median and minimum wall times and their ratio (target: ≤ ~2×).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import environment  # noqa: E402  (the same clean, bytecode-cached environment)

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

BARE = """
import numpy as np
x = np.array([[0.05, 0.10]]); t = np.array([[0.01, 0.99]])
w1 = np.array([[0.15, 0.20], [0.25, 0.30]]); b1 = np.array([0.35, 0.35])
w2 = np.array([[0.40, 0.45], [0.50, 0.55]]); b2 = np.array([0.60, 0.60])
sigma = lambda z: 1 / (1 + np.exp(-z))
losses = []
for _ in range({steps}):
    a1 = sigma(x @ w1.T + b1); a2 = sigma(a1 @ w2.T + b2)
    losses.append(0.5 * ((a2 - t) ** 2).sum(axis=1).mean())
    d2 = (a2 - t) * a2 * (1 - a2); d1 = (d2 @ w2) * a1 * (1 - a1)
    w2 = w2 - 0.5 * (d2.T @ a1); w1 = w1 - 0.5 * (d1.T @ x)
a2 = sigma(sigma(x @ w1.T + b1) @ w2.T + b2)
print(repr(float(0.5 * ((a2 - t) ** 2).sum(axis=1).mean())))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()
    env = environment(cached=True)
    commands = {
        "bare NumPy script": [PY, "-c", BARE.format(steps=args.steps)],
        "bpcalc train --format json": [PY, "-m", "bpcalc", "train", "problems/mazur_2_2_2.yaml",
                                       "--steps", str(args.steps), "--format", "json"],
    }
    outputs = {name: subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
               for name, argv in commands.items()}
    bare, ours = float(outputs["bare NumPy script"]), json.loads(outputs["bpcalc train --format json"])
    assert abs(ours["final"]["loss"] - bare) <= 1e-12 * max(1.0, abs(bare)), (ours["final"]["loss"], bare)
    print(f"{args.steps:,} steps of Mazur's 2-2-2 network: final loss {bare:.6g} on both sides")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, check=True)
            times[name].append(time.perf_counter() - start)
    base = times["bare NumPy script"]
    print(f"{'command':32} {'median ms':>10} {'min ms':>8} {'ratio (median)':>15} {'ratio (min)':>12}")
    for name, values in times.items():
        print(f"{name:32} {statistics.median(values) * 1e3:10.0f} {min(values) * 1e3:8.0f} "
              f"{statistics.median(values) / statistics.median(base):15.2f} {min(values) / min(base):12.2f}")


if __name__ == "__main__":
    main()
