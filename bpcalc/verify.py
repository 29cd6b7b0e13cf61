"""Answer keys proved right: solve each problem and compare it with its ``expected``.

An instructor's key is a mapping from solution paths to values; a key entry
passes when the solver agrees with it to the digits the instructor wrote
(see :mod:`bpcalc.numbers`). A file that cannot be loaded is reported as
broken and the others are still checked; so is a key that cannot be checked at
all (a path that names nothing, a value that is not a finite number): that is
bad input, not a wrong answer.

Only regular files are read (a FIFO or a device in a folder is reported as
broken, never waited on), and nothing is set up per file that could be shared:
the YAML loader class is made once per process, and a Grader is built only for
a file that has questions.
"""

from __future__ import annotations

import os
import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import numpy as np

from .errors import BpcalcError
from .numbers import KEY_TOLERANCE, agrees
from .paths import resolve
from .problem import KEY

PROBLEM_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class KeyCheck:
    """One entry of an answer key, checked."""

    path: str
    expected: Any
    actual: Any
    passed: bool
    message: str = ""
    solver_value: float | None = None    # the first value the key disagrees with, for display
    key_value: float | None = None       # what a formula key gives there, for display
    invalid: bool = False                # the key itself cannot be checked: bad input (exit 2)
    error: str | None = None             # for an invalid key: one located line (file:line:col: key: ...)


@dataclass(frozen=True)
class FileReport:
    """The checks of one problem file, or the error that stopped it loading."""

    source: str
    title: str | None = None
    checks: tuple[KeyCheck, ...] = ()
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(check.passed for check in self.checks)

    @property
    def broken(self) -> bool:
        """The file could not be loaded, or one of its keys cannot be checked."""
        return self.error is not None or any(check.invalid for check in self.checks)

    def errors(self) -> list[str]:
        """One line for each thing that makes the file broken (for stderr)."""
        lines = [self.error] if self.error else []
        return lines + [check.error or check.message for check in self.checks if check.invalid]


@dataclass(frozen=True)
class VerifyReport:
    files: tuple[FileReport, ...] = field(default_factory=tuple)

    @property
    def broken(self) -> bool:
        return any(report.broken for report in self.files)

    @property
    def passed(self) -> bool:
        return all(report.passed for report in self.files)

    @property
    def exit_code(self) -> int:
        """0 all keys right, 1 a key disagrees with the solver, 2 a file is broken."""
        return 2 if self.broken else (0 if self.passed else 1)


def problem_files(paths: Iterable[str]) -> list[str]:
    """The YAML files named, with directories searched recursively, in a stable order."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(os.path.join(root, name) for name in sorted(files)
                             if name.endswith(PROBLEM_SUFFIXES))
        else:
            found.append(path)
    return found


def verify(paths: Iterable[str]) -> VerifyReport:
    return VerifyReport(tuple(verify_file(path) for path in problem_files(paths)))


def verify_file(path: str) -> FileReport:
    from .problem import load
    from .solver import solve

    try:
        problem = load(path)
        solution = solve(problem)
    except BpcalcError as error:
        return FileReport(path, error=str(error))
    grader, broken = None, None
    if problem.questions:
        from .grading import Grader

        try:
            grader = Grader(problem, solution)
        except BpcalcError as error:       # a broken question: the keys are still checked
            broken = str(error)
    from .paths import AnswerDocument

    document = grader.document if grader is not None else AnswerDocument(solution)
    checks = []
    for key, value in problem.expected.items():
        check = check_entry(document, key, value)
        if check.invalid:
            check = replace(check, error=str(problem.error(("expected", key, KEY), check.message)))
        checks.append(check)
    if grader is not None:
        try:
            checks.extend(question_checks(problem, solution, grader))
        except BpcalcError as error:
            broken = str(error)
    return FileReport(path, problem.title, tuple(checks), error=broken)


def question_checks(problem: Any, solution: Any, grader: Any = None) -> list[KeyCheck]:
    """Question keys the solver can contradict: a numeric question's published ``key``,
    a formula evaluated at the solver's numbers (``verify:``), and listed formula
    mistakes, which must really differ from the expected formula."""
    if not problem.questions:
        return []
    if grader is None:
        from .grading import Grader

        grader = Grader(problem, solution)
    checks = []
    for question in grader.questions.values():
        label = f"questions.{question.id}"
        if question.kind == "numeric" and question.key is not None:
            good = agrees(float(question.key), question.value, KEY_TOLERANCE, getattr(question.key, "text", None))
            checks.append(KeyCheck(label, question.key, question.value, good,
                                   "" if good else f"the solver gives {float(question.value)!r}",
                                   None if good else float(question.value)))
        if question.kind == "numeric" and question.path is not None:
            conflicts = grader.tolerance_conflicts(question)
            checks.append(KeyCheck(f"{label} (tolerance)", question.tolerance.brief(), None,
                                   not conflicts, "; ".join(conflicts)))
        if question.kind == "formula":
            checks.extend(_formula_checks(grader, question, label))
    return checks


def _formula_checks(grader: Any, question: Any, label: str) -> list[KeyCheck]:
    from .expr import evaluate
    from .formula import equivalent, parse

    checks = []
    expected = parse(question.value, allowed=question.variables)
    if question.verify_values:
        env = {name: grader.number_at(where) for name, where in question.verify_values.items()}
        value = complex(evaluate(expected, env))
        want = grader.number_at(question.verify_equals)
        good = abs(value.imag) < 1e-12 and agrees(value.real, want, KEY_TOLERANCE)
        checks.append(KeyCheck(f"{label} (verify)", question.verify_equals, value.real, good,
                               "" if good else f"the formula gives {value.real!r}, the solver {want!r}",
                               None if good else want, None if good else value.real))
    for number, (wrong, _message) in enumerate(question.known_mistakes, start=1):
        tree = parse(wrong, allowed=question.variables)
        good = not equivalent(expected, tree, question.variables, ranges=question.ranges)
        checks.append(KeyCheck(f"{label} (mistake {number})", wrong, None, good,
                               "" if good else "this listed mistake is equivalent to the expected formula"))
    return checks


def check_entry(document: dict[str, Any], path: str, expected: Any) -> KeyCheck:
    """Compare one key entry (a number or nested list) with the solution.

    A key that cannot be compared at all is ``invalid`` (bad input), with a message
    that says why; a key that can be compared and disagrees is a failed check."""
    path = str(path)
    if isinstance(expected, np.ndarray):
        expected = expected.tolist()

    def invalid(message: str) -> KeyCheck:
        return KeyCheck(path, expected, None, False, message, invalid=True)

    try:
        actual = resolve(document, path)
    except BpcalcError as error:
        return invalid(str(error))
    if expected is None:
        return invalid("the key is empty: write the expected value")
    if actual is None:
        return invalid("the solution has no value there (null): e.g. a layer without bias, "
                       "or no learning_rate for an update")
    written = _flatten(expected)
    if any(isinstance(item, bool) or not isinstance(item, (int, float)) for item in written):
        return invalid("the key is not a number or a list of numbers")
    if not all(math.isfinite(item) for item in written):
        bad = next(item for item in written if not math.isfinite(item))
        return invalid(f"the key holds {getattr(bad, 'text', repr(bad))}; expected finite numbers")
    try:
        want = np.asarray(expected, dtype=np.float64)
    except (TypeError, ValueError):
        return invalid("the key is not a number or a list of numbers")
    try:
        got = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        kind = ("a mapping" if isinstance(actual, dict) else
                "a list of mappings" if isinstance(actual, list) and any(isinstance(a, dict) for a in actual)
                else "text" if isinstance(actual, str) else "not a number")
        return invalid(f"in the solution this is {kind}, not a number or a list of numbers: point "
                       "the key at a value, such as loss, gradients.w1 or layers[1].z")
    if want.shape != got.shape:
        return KeyCheck(path, expected, actual, False,
                        f"the key has shape {want.shape}, the solution {got.shape}")
    texts = [getattr(item, "text", None) for item in written]
    wrong = [index for index, (w, g, text) in enumerate(zip(want.ravel(), got.ravel(), texts))
             if not agrees(float(w), float(g), KEY_TOLERANCE, text)]
    if wrong:
        index = wrong[0]
        where = "" if want.ndim == 0 else f" at {list(map(int, np.unravel_index(index, want.shape)))}"
        value = float(got.ravel()[index])
        return KeyCheck(path, expected, actual, False, f"the solver gives {value!r}{where}", value)
    return KeyCheck(path, expected, actual, True)


def _flatten(value: Any) -> list[Any]:
    """The leaves of a nested list, without recursion (a key may be nested deeply)."""
    leaves, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            leaves.append(item)
    return leaves
