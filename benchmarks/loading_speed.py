"""Reading problem files: ``bpcalc.load`` against PyYAML alone, in the same process.

    python benchmarks/loading_speed.py              # 5 alternated rounds
    python benchmarks/loading_speed.py --rounds 3

Two files are written to a temporary folder: a 300×300 weight matrix (one tanh
layer, input and target of 300 values; ~1.9 MB), and a 420×420 one (~3.6 MB, more
than the 3.2 MB of the issue). For each, the median of alternated rounds of

* ``bpcalc.load(path)``: read the file (regular files only, bounded), compose it
  with libyaml under the YAML 1.2 core schema, convert it with every position
  kept, validate it into a Problem;
* the baseline ``yaml.load(text, Loader=yaml.CSafeLoader)``: the least any tool that
  reads this YAML with PyYAML's C loader pays (no positions, no validation);
* ``bpcalc.problem.parse_yaml(text, pure_python=True)``: the fallback when libyaml is
  missing (one round: it is the slow path).

and the ratio of ``bpcalc.load`` to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout, too
import bpcalc  # noqa: E402
from bpcalc.problem import parse_yaml  # noqa: E402


def matrix_problem(n: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    rows = "\n".join("      - [" + ", ".join(repr(float(x)) for x in row) + "]"
                     for row in rng.normal(size=(n, n)))
    values = ", ".join(["0.5"] * n)
    return (f"input: [{values}]\ntarget: [{values}]\nlayers:\n  - activation: tanh\n"
            f"    weights:\n{rows}\n")


def timed(function, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"libyaml: {yaml.__with_libyaml__}; PyYAML {yaml.__version__}")
    print(f"{'file':<22}{'MB':>6}{'load s':>10}{'yaml.load s':>13}{'ratio':>8}{'pure-Python s':>15}")
    with tempfile.TemporaryDirectory() as folder:
        for n in (300, 420):
            text = matrix_problem(n)
            path = Path(folder) / f"matrix_{n}.yaml"
            path.write_text(text, encoding="utf-8")
            loads, baselines = [], []
            for _ in range(args.rounds):                 # alternated: one of each per round
                loads.append(timed(lambda: bpcalc.load(path), 1))
                baselines.append(timed(lambda: yaml.load(text, Loader=yaml.CSafeLoader), 1))
            load, baseline = statistics.median(loads), statistics.median(baselines)
            pure = timed(lambda: parse_yaml(text, str(path), pure_python=True), 1)
            print(f"{f'{n}×{n} matrix':<22}{len(text) / 1e6:>6.2f}{load:>10.3f}{baseline:>13.3f}"
                  f"{load / baseline:>8.2f}{pure:>15.3f}")


if __name__ == "__main__":
    main()
