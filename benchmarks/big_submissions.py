"""Grading a big submissions file: time and peak memory of ``bpcalc grade``, against file size.

Writes a CSV of about ``--megabytes`` MB (students answering 10 questions of the
reference homework from a realistic pool), runs ``bpcalc grade … -o report.json``
in a fresh process and prints its wall time, peak resident memory and the ratio of
peak memory to the file's size. Submissions are streamed row by row and the report
is streamed out, so the peak stays far below the file size; what grows with the
file is only the set of student ids seen (for the duplicate check).

    python benchmarks/big_submissions.py [--megabytes 200]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

from grading_speed import POOL, PROBLEM  # noqa: E402


def write_csv(path: str, megabytes: float, seed: int = 0) -> int:
    rng = random.Random(seed)
    ids = list(POOL)
    limit = int(megabytes * 1_000_000)
    students = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *ids])
        while handle.tell() < limit:
            for _ in range(1000):
                writer.writerow([f"s{students:08d}", *(rng.choice(POOL[qid]) for qid in ids)])
                students += 1
    return students


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        submissions = os.path.join(folder, "big.csv")
        students = write_csv(submissions, args.megabytes)
        size = os.path.getsize(submissions)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bpcalc", "grade", PROBLEM, submissions,
                        "-o", os.path.join(folder, "report.json")], check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024   # Linux: KiB
        print(f"{size / 1e6:,.0f} MB, {students:,} students × {len(POOL)} questions: {seconds:,.1f} s, "
              f"{students * len(POOL) / seconds:,.0f} answers/s")
        print(f"peak memory {peak / 1e6:,.0f} MB = {peak / size:.2f} × the file")


if __name__ == "__main__":
    main()
