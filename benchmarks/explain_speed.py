"""``bpcalc explain`` against ``bpcalc solve --format json`` on the same wide problem file.

    python benchmarks/explain_speed.py              # width 300, 5 alternated rounds
    python benchmarks/explain_speed.py --width 100 --rounds 9

The file: an input of ``--width`` values and three layers of ``--width`` neurons
(tanh, relu, sigmoid), one example, half squared error, η = 0.1. Both sides do what
the command does, in one process: read and validate the file, solve, then either
``json.dumps`` of the solution (``solve --format json``) or build the derivation and
print it as the terminal text a pipe gets (``explain``, 80 columns) — and its JSON
(``explain --format json``). Wide layers are explained as vectors, summarised past 36
entries, so the derivation's cost should follow what it shows, not the 180,000
parameters: the ratio is printed against the issue's bound of 3.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout, too
from bpcalc.derivation import derive  # noqa: E402
from bpcalc.problem import load  # noqa: E402
from bpcalc.solver import solve  # noqa: E402


def write_problem(path: Path, width: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    layers = [{"activation": activation,
               "weights": np.round(rng.normal(0, 1 / np.sqrt(width), (width, width)), 4).tolist(),
               "bias": np.round(rng.normal(0, 0.1, width), 4).tolist()}
              for activation in ("tanh", "relu", "sigmoid")]
    document = {"title": f"Three layers of {width}", "input": np.round(rng.normal(0, 1, width), 3).tolist(),
                "target": np.round(rng.uniform(0, 1, width), 3).tolist(), "learning_rate": 0.1,
                "layers": layers}
    path.write_text(yaml.safe_dump(document, default_flow_style=None, width=10**9), encoding="utf-8")


def solve_json(path: Path) -> int:
    return len(json.dumps(solve(load(path)).to_dict()))


def explain_text(path: Path) -> int:
    from rich.console import Console

    from bpcalc.render.derivation import print_text

    problem = load(path)
    out = io.StringIO()
    print_text(derive(problem, solve(problem)), Console(file=out, width=80, force_terminal=False))
    return len(out.getvalue())


def explain_json(path: Path) -> int:
    problem = load(path)
    return len(json.dumps(derive(problem, solve(problem)).to_dict()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "wide.yaml"
        write_problem(path, args.width)
        cases = {"solve --format json": solve_json, "explain": explain_text, "explain --format json": explain_json}
        sizes = {name: case(path) for name, case in cases.items()}          # warm up, and sizes
        times: dict[str, list[float]] = {name: [] for name in cases}
        for round_ in range(args.rounds):
            order = list(cases) if round_ % 2 == 0 else list(reversed(cases))
            for name in order:
                start = time.perf_counter()
                cases[name](path)
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["solve --format json"])
        print(f"file: input {args.width}, three layers of {args.width} ({path.stat().st_size / 1e6:.2f} MB), "
              f"median of {args.rounds} alternated rounds")
        for name in cases:
            median = statistics.median(times[name])
            print(f"  {name:22s} {median:7.3f} s  {sizes[name] / 1000:9.1f} KB  ratio {median / base:5.2f}")
        ratio = statistics.median(times["explain"]) / base
        print(f"explain / solve --format json = {ratio:.2f} (bound: 3) -> {'ok' if ratio <= 3 else 'OVER'}")


if __name__ == "__main__":
    main()
