"""Are the classic mistakes named on networks of any shape? A measurement, and its floor.

Random networks from ``tests/networks.py`` (non-square layers, softmax with
cross-entropy, sigmoid with binary cross-entropy, every activation, several
examples); every mistake of ``tests/mistake_oracle.py`` (an independent model of
what a student computes, plain NumPy) applied to every gradient and update; the
student's value typed at full precision and rounded to 4 significant digits. A
case counts as named when the diagnosis is the sentence of a mistake whose value
equals the student's (several mistakes can give the same number: any of them is a
right explanation). Cases the numeric rule grades as right (the mistake moves the
answer less than the tolerance) are not mistakes a grader can see, except the
value before an update, which must always be named unless, rounded, it is the very text a
right answer rounds to.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from bpcalc.grading import Grader
from bpcalc.mistakes import candidates
from bpcalc.problem import Problem

from mistake_oracle import mistaken_answers
from networks import networks

RATE_FLOOR = 0.98


def _typed(value: float, digits: int | None) -> str:
    return repr(value) if digits is None else f"{value:.{digits}g}"


def measure(doc: dict, tally: Counter, misses: list) -> None:
    try:
        problem = Problem.from_dict(doc)
        grader = Grader(problem)
    except Exception:               # a network the solver refuses (overflow): not a case
        return
    for mistake, path, value, right in mistaken_answers(doc):
        if not math.isfinite(right) or abs(value - right) <= 1e-9 * max(abs(right), 1.0):
            continue                 # no mistake at all, or float64 noise around a zero gradient
        found = candidates(grader.problem, grader.solution, path, grader._diagnoser)
        for digits in (None, 4):
            answer = _typed(value, digits)
            if answer == _typed(right, digits):
                tally["same text"] += 1  # what a right student types too (1.2396 and 1.24001 at 4
                continue                 # digits are both 1.24): no grader can tell them apart
            grade = grader.grade(path, answer)
            if grade.correct:
                tally["graded right", mistake == "old_value"] += 1
                if mistake == "old_value":
                    misses.append((mistake, path, answer, "graded right"))
                continue
            typed = float(answer)
            named = [(name, candidate) for name, candidate, sentence in found
                     if grade.diagnosis and sentence in grade.diagnosis]
            # Named right: the mistake made, or one whose value is as close to what was typed
            # (at 4 digits several mistakes can round alike; the closest is the best guess).
            tally["cases"] += 1
            tally["cases", mistake] += 1
            if any(name == mistake or abs(candidate - typed) <= abs(value - typed) * (1 + 1e-9) + 1e-15
                   for name, candidate in named):
                tally["named"] += 1
                tally["named", mistake] += 1
                if any(name == mistake or math.isclose(candidate, value, rel_tol=1e-7) for name, candidate in named):
                    tally["strictly"] += 1          # this very mistake, or one with its exact value
            else:
                misses.append((mistake, path, answer, grade.diagnosis))


@pytest.mark.parametrize("shape", [
    dict(max_layers=3, max_width=4, max_examples=1),
    dict(max_layers=4, max_width=3, max_examples=3),
], ids=["single-example", "mini-batch"])
def test_classic_mistakes_are_named_on_random_networks(shape):
    tally: Counter = Counter()
    misses: list = []

    @settings(max_examples=60, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(networks(**shape))
    def collect(doc):
        with np.errstate(all="ignore"):
            measure(doc, tally, misses)

    collect()
    rate = tally["named"] / tally["cases"]
    per_mistake = {name: f"{tally['named', name]}/{tally['cases', name]}"
                   for (key, name) in [k for k in tally if isinstance(k, tuple) and k[0] == "cases"]}
    print(f"\n{shape}: {tally['named']} of {tally['cases']} named ({rate:.1%}; the very mistake or one "
          f"of equal value: {tally['strictly'] / tally['cases']:.1%}); graded right (within the "
          f"tolerance): {tally['graded right', False]}; {per_mistake}")
    assert tally["cases"] > 1000
    assert rate >= RATE_FLOOR, (rate, per_mistake, misses[:30])
    assert not [m for m in misses if m[0] == "old_value"], misses
