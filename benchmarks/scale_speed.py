"""Linear cost at scale: ``verify`` over many small files, and tables of many layers.

    python benchmarks/scale_speed.py                  # 1,000 files; 1,000 and 10,000 layers
    python benchmarks/scale_speed.py --files 2000 --rounds 3

**verify.** The shipped problems (``problems/*.yaml``, with answer keys and questions)
are copied round-robin into a temporary folder of ``--files`` files. Timed in one
process, median of alternated rounds:

* ``bpcalc.verify.verify([folder])``: load, solve and check every key and question;
* the report rendered as text (``verify_tables`` + ``print_tables`` into a 80-column
  console writing to memory) and as the JSON document (``json.dumps``);
* the baseline: read every file and ``yaml.load`` it with libyaml (``CSafeLoader``),
  the least any checker of these files pays; and the ratio of verify to it.

**tables.** ``bpcalc solve`` as text for a chain of 1,000 and of 10,000 one-neuron
tanh layers: ``solution_tables`` + ``print_tables`` into memory, against
``json.dumps(solution.to_dict())`` of the same solution (the ``--format json``
output). Linear cost shows as a per-row time that does not grow with the layers.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # run from a checkout, too
import bpcalc  # noqa: E402
from bpcalc.render.reports import verify_document, verify_tables  # noqa: E402
from bpcalc.render.tables import solution_tables  # noqa: E402
from bpcalc.render.terminal import make_console, print_tables  # noqa: E402
from bpcalc.verify import verify  # noqa: E402


def median_time(function, rounds: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def render_text(tables, heading=None) -> int:
    buffer = io.StringIO()
    console = make_console(buffer)
    console.width = 80
    print_tables(tables, console, heading)
    return len(buffer.getvalue())


def baseline(paths: list[Path]) -> None:
    for path in paths:
        yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


def bench_verify(count: int, rounds: int) -> None:
    shipped = sorted((ROOT / "problems").glob("*.yaml"))
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index in range(count):
            path = Path(folder) / f"p{index:05d}.yaml"
            shutil.copy(shipped[index % len(shipped)], path)
            paths.append(path)
        checked, base = [], []
        report = None
        for _ in range(rounds):
            seconds, report = median_time(lambda: verify([folder]), 1)
            checked.append(seconds)
            base.append(median_time(lambda: baseline(paths), 1)[0])
        assert report is not None and report.passed, "a shipped key failed"
        text, _ = median_time(lambda: render_text(verify_tables(report, 6)), rounds)
        as_json, _ = median_time(lambda: json.dumps(verify_document(report)), rounds)
        checks = sum(len(f.checks) for f in report.files)
        verify_s, base_s = statistics.median(checked), statistics.median(base)
        print(f"verify {count:,} files ({checks:,} keys and question checks)")
        print(f"  verify            {verify_s:8.3f} s   {verify_s / count * 1e3:6.2f} ms a file")
        print(f"  yaml.load (C)     {base_s:8.3f} s   ratio verify / baseline {verify_s / base_s:.2f}")
        print(f"  report as text    {text:8.3f} s")
        print(f"  report as JSON    {as_json:8.3f} s")
        print(f"  total (verify + text) {verify_s + text:.3f} s")


def chain(layers: int) -> bpcalc.Problem:
    return bpcalc.Problem.from_dict({
        "input": 0.5, "target": 0.5, "learning_rate": 0.1,
        "layers": [{"activation": "tanh", "weights": 0.9, "bias": 0.01}] * layers})


def bench_tables(rounds: int) -> None:
    print("solve as tables (one-neuron tanh layers)")
    print(f"  {'layers':>7}{'rows':>8}{'text s':>9}{'µs a row':>10}{'JSON s':>9}{'text / JSON':>13}")
    for layers in (1_000, 10_000):
        solution = bpcalc.solve(chain(layers))
        tables = solution_tables(solution, 6)
        rows = sum(len(table.rows) for table in tables)
        text, _ = median_time(lambda: render_text(solution_tables(solution, 6), "chain"), rounds)
        as_json, _ = median_time(lambda: json.dumps(solution.to_dict()), rounds)
        print(f"  {layers:>7,}{rows:>8,}{text:>9.3f}{text / rows * 1e6:>10.1f}{as_json:>9.3f}"
              f"{text / as_json:>13.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bench_verify(args.files, args.rounds)
    bench_tables(args.rounds)


if __name__ == "__main__":
    main()
