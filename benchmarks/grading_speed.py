"""Batch grading rate: 10,000 students × 10 questions of the reference homework.

Answers are drawn from a realistic pool (right, rounded, typical mistakes,
formulas typed several ways, choices), so the memo of repeated answers is
exercised the way a real class exercises it. Prints seconds and answers/s for
reading, grading and writing the report, and the same run with the memo
cleared before each student (the cost without caching) for comparison.

    python benchmarks/grading_speed.py [--students N]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bpcalc.batch import grade_submissions, read_submissions, write_report  # noqa: E402
from bpcalc.grading import Grader  # noqa: E402
from bpcalc.problem import load  # noqa: E402

PROBLEM = os.path.join(os.path.dirname(__file__), "..", "problems", "simple_network.yaml")
POOL = {
    "dC_dw1": ["2.081", "2.0809", "2.08", "2.0", "-2.081", "0.693", "2.1", "1.04"],
    "dC_dw2": ["-0.004", "-0.00416", "-0.139", "0.004", "-0.0083", "-0.0334"],
    "dC_db": ["-0.139", "-0.1387", "0.139", "-0.76", "-0.277"],
    "w1_updated": ["-0.198", "-0.1981", "0.218", "-2.071", "0.208"],
    "sgd_rule": ["w_1 - eta*partialC/partialw_1", "w_1-eta*(partialC)/(partialw_1)",
                 "w_1 + eta*partialC/partialw_1", "w_1 - partialC/partialw_1", "w_1 - eta*partialC"],
    "delta_L": ["(a_j - t_j)*sigma(z_j)*(1 - sigma(z_j))", "(a_j-t_j)*sigma(z_j)",
                "a_j - t_j", "(t_j - a_j)*sigma(z_j)*(1-sigma(z_j))"],
    "delta_l": ["a", "b", "c"],
    "dC_dwjk": ["a_k^(l-1)*delta_j^l", "delta_j^l * a_k^(l-1)", "a_j^(l-1)*delta_j^l", "a_k^(l-1)"],
    "sigma_prime": ["sigma(z)*(1-sigma(z))", "sigma(z)*(1+sigma(z))", "exp(-z)/(1+exp(-z))^2"],
    "sigma_large_z": ["a", "b", "c"],
}


def write_submissions(path: str, students: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    ids = list(POOL)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *ids])
        for number in range(students):
            writer.writerow([f"student{number:05d}", *(rng.choice(POOL[qid]) for qid in ids)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        submissions = os.path.join(folder, "submissions.csv")
        write_submissions(submissions, args.students)
        problem = load(PROBLEM)

        start = time.perf_counter()
        grader = Grader(problem)
        rows = list(read_submissions(submissions, grader.question))
        read = time.perf_counter()
        report = grade_submissions(grader, rows)
        graded = time.perf_counter()
        write_report(report, os.path.join(folder, "report.json"))
        written = time.perf_counter()

        answers = sum(len(s.grades) for s in report.students)
        print(f"{args.students:,} students × {len(POOL)} questions = {answers:,} answers")
        print(f"  read      {read - start:8.3f} s")
        print(f"  grade     {graded - read:8.3f} s   {answers / (graded - read):12,.0f} answers/s")
        print(f"  write     {written - graded:8.3f} s")
        print(f"  total     {written - start:8.3f} s   {answers / (written - start):12,.0f} answers/s")

        sample = rows[: min(200, len(rows))]
        start = time.perf_counter()
        for row in sample:
            fresh = Grader(problem, grader.solution)
            grade_submissions(fresh, [row])
        uncached = (time.perf_counter() - start) / len(sample)
        per_student = (graded - read) / max(len(report.students), 1)
        print(f"without the memo (fresh grader per student, {len(sample)} students): "
              f"{uncached * 1e3:.2f} ms/student vs {per_student * 1e3:.3f} ms/student with it "
              f"(ratio {uncached / per_student:.0f}×)")


if __name__ == "__main__":
    main()
