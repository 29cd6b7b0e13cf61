"""Batch grading rate: 10,000 students × 10 questions of the reference homework, twice.

1. Repeated answers: drawn from a small realistic pool (right, rounded, typical
   mistakes, formulas typed several ways, choices), so the memo of repeated
   answers is exercised the way a class with one shared problem exercises it.
2. Distinct answers: every numeric and formula answer is typed differently
   (each student's own rounding, noise and wrong factors; formulas with their own
   spacing, brackets, order, case and coefficients), so nothing is graded twice,
   as once students have their own numbers. Many are wrong in ways no listed
   mistake explains, which is the most expensive path: every diagnosis is tried.

Both run the path of ``bpcalc grade`` (stream the CSV, grade, stream a JSON
report) in this one process; the script prints seconds, answers/s and the ratio
distinct / repeated, which the project keeps at 5 or less.

    python benchmarks/grading_speed.py [--students N] [--seed S]
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

from bpcalc.batch import ReportWriter, SubmissionFile, grade_submissions, question_ids  # noqa: E402
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

# Distinct answers. Numbers: the exact value, a mistake's value or a stray one, with each
# student's own noise, digits and notation. Formulas: a right or a wrong form; "{k}" is a
# student's own coefficient (wrong), "{r}" a factor that keeps the form right, then typed
# with the student's own spacing and case.
VALUES = {"dC_dw1": (2.0809166, [4.1618, 11.3927, -2.0809, 0.6936]),
          "dC_dw2": (-0.0041618, [-0.13873, 0.0041618, -0.0083237, -0.033363]),
          "dC_db": (-0.13873, [0.13873, -0.75951, -0.27746, -0.18265]),
          "w1_updated": (-0.19809, [0.21809, -2.0709, -0.20809, 0.01])}
FORMS = {
    "sgd_rule": ["w_1 - eta*partialC/partialw_1", "w_1 - partialC*eta/partialw_1",
                 "-eta*partialC/partialw_1 + w_1", "w_1 - (eta*partialC)/partialw_1*{r}",
                 "w_1 + eta*partialC/partialw_1", "w_1 - {k}*eta*partialC/partialw_1",
                 "w_1 - eta*partialC", "w_1 - eta^{k}*partialC/partialw_1"],
    "delta_L": ["(a_j - t_j)*sigma(z_j)*(1 - sigma(z_j))", "sigma(z_j)*(1-sigma(z_j))*(a_j-t_j)*{r}",
                "(a_j - t_j)*sigma(z_j)", "(a_j-t_j)*{k}*sigma(z_j)*(1-sigma(z_j))",
                "(t_j - a_j)*sigma(z_j)*(1 - sigma(z_j))", "a_j - t_j + {k}"],
    "dC_dwjk": ["a_k^(l-1)*delta_j^l", "delta_j^l*a_k^(l-1)*{r}", "a_j^(l-1)*delta_j^l",
                "a_k^(l-{k})*delta_j^l", "{k}*a_k^(l-1)*delta_j^l", "a_k^(l-1)"],
    "sigma_prime": ["sigma(z)*(1-sigma(z))", "exp(-z)/(1+exp(-z))^2*{r}", "sigma(z)*(1+sigma(z))",
                    "sigma(z)*({k}-sigma(z))", "sigma(z)^{k}"],
}


def _number(rng: random.Random, qid: str) -> str:
    exact, mistakes = VALUES[qid]
    value = exact if rng.random() < 0.5 else rng.choice(mistakes) if rng.random() < 0.6 else \
        exact * rng.uniform(-3, 3)
    value *= 1 + rng.gauss(0, 0.002)
    digits = rng.randint(3, 9)
    return f"{value:.{digits}e}" if rng.random() < 0.2 else f"{value:.{digits}g}"


def _formula(rng: random.Random, qid: str) -> str:
    form = rng.choice(FORMS[qid])
    form = form.replace("{k}", f"{rng.uniform(0.1, 9):.{rng.randint(1, 4)}f}")
    n = rng.randint(2, 999)
    form = form.replace("{r}", rng.choice([f"({n}/{n})", f"{n}/{n}", f"(1+{n}-{n})"]))
    spaced = "".join(f" {c} " if c in "+-*/" and rng.random() < 0.5 else c for c in form)
    return spaced.upper() if rng.random() < 0.1 else spaced


def distinct_answer(rng: random.Random, qid: str, seen: set[str]) -> str:
    """An answer to ``qid`` that no other student typed."""
    while True:
        if qid in VALUES:
            text = _number(rng, qid)
        elif qid in FORMS:
            text = _formula(rng, qid)
        else:
            return rng.choice(POOL[qid])          # a choice: a letter, necessarily repeated
        if text not in seen:
            seen.add(text)
            return text


def write_submissions(path: str, students: int, seed: int = 0, distinct: bool = False) -> None:
    rng = random.Random(seed)
    ids = list(POOL)
    seen: dict[str, set[str]] = {qid: set() for qid in ids}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *ids])
        for number in range(students):
            answers = [distinct_answer(rng, qid, seen[qid]) if distinct else rng.choice(POOL[qid])
                       for qid in ids]
            writer.writerow([f"student{number:05d}", *answers])


def grade_file(problem, submissions: str, report: str) -> tuple[float, int]:
    """What ``bpcalc grade`` does, timed: (seconds, answers graded)."""
    start = time.perf_counter()
    grader = Grader(problem)
    with SubmissionFile(submissions, grader.question) as rows, ReportWriter(report) as writer:
        result = grade_submissions(grader, rows, ids=question_ids(grader, rows.columns), sink=writer)
        writer.finish(result)
    return time.perf_counter() - start, result.student_count * len(result.question_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    problem = load(PROBLEM)
    with tempfile.TemporaryDirectory() as folder:
        timings = {}
        for case, distinct in (("repeated", False), ("distinct", True)):
            submissions = os.path.join(folder, f"{case}.csv")
            write_submissions(submissions, args.students, args.seed, distinct)
            seconds, answers = grade_file(problem, submissions, os.path.join(folder, f"{case}.json"))
            timings[case] = seconds
            print(f"{case:9} {args.students:,} students × {len(POOL)} questions = {answers:,} answers: "
                  f"{seconds:7.3f} s  {answers / seconds:10,.0f} answers/s  "
                  f"{seconds / answers * 1e6:6.1f} µs/answer")
        print(f"ratio distinct / repeated: {timings['distinct'] / timings['repeated']:.2f} "
              "(read, grade and write the report; the project keeps it at 5 or less)")


if __name__ == "__main__":
    main()
